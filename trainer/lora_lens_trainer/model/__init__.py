"""Model loading that the plain from_pretrained does not do: the streaming NF4 load of QLoRA (stream_load.py) over
safetensors files read one tensor at a time (checkpoint_files.py)."""
