"""An Ollama Modelfile beside the GGUF: FROM the file, the chat template in Ollama's Go-template form for the chat
formats recognised (ChatML, Llama 3, Gemma, Phi-3, Mistral [INST]), and a stop PARAMETER for the end-of-turn and
end-of-sequence tokens, so that the model stops after its turn. Another template gets no TEMPLATE line and a
comment saying so: Ollama then falls back to the Jinja template inside the GGUF where it recognises it."""

from __future__ import annotations

from pathlib import Path

from .tokenizer_meta import TokenizerFacts

# (a marker found in the Jinja template, the Go template Ollama renders)
GO_TEMPLATES = [
    (
        "<|im_start|>",
        "ChatML",
        "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n",
    ),
    (
        "<|start_header_id|>",
        "Llama 3",
        "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ end }}"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
    (
        "<start_of_turn>",
        "Gemma",
        '{{- range .Messages }}<start_of_turn>{{ if eq .Role "assistant" }}model{{ else }}{{ .Role }}{{ end }}\n'
        "{{ .Content }}<end_of_turn>\n{{ end }}<start_of_turn>model\n",
    ),
    (
        "<|assistant|>",
        "Phi-3",
        "{{- range .Messages }}<|{{ .Role }}|>\n{{ .Content }}<|end|>\n{{ end }}<|assistant|>\n",
    ),
    (
        "[INST]",
        "Mistral",
        '{{- range .Messages }}{{ if eq .Role "user" }}[INST] {{ .Content }} [/INST]'
        '{{ else if eq .Role "assistant" }}{{ .Content }}</s>{{ end }}{{ end }}',
    ),
]


def go_template(chat_template: str | None) -> tuple[str, str] | None:
    """(format name, Go template) for a recognised Jinja chat template, else None."""
    if not chat_template:
        return None
    for marker, name, template in GO_TEMPLATES:
        if marker in chat_template:
            return name, template
    return None


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def modelfile_text(gguf_name: str, tokenizer: TokenizerFacts) -> str:
    lines = [f"FROM ./{gguf_name}"]
    found = go_template(tokenizer.chat_template)
    if found:
        name, template = found
        lines.append(f"# {name} chat format, from the chat template the run trained with")
        lines.append(f'TEMPLATE """{template}"""')
    elif tokenizer.chat_template:
        lines.append(
            "# The chat template is not one LoRA Lens writes as a Go template; the GGUF carries it "
            "(tokenizer.chat_template) for tools that render Jinja."
        )
    else:
        lines.append("# No chat template: a base (completion) model.")
    lines += [f"PARAMETER stop {_quoted(token)}" for token in tokenizer.stop_tokens]
    return "\n".join(lines) + "\n"


def write_modelfile(gguf_path: Path, tokenizer: TokenizerFacts) -> Path:
    from ..atomic import write_text

    path = gguf_path.with_name("Modelfile")
    write_text(path, modelfile_text(gguf_path.name, tokenizer))
    return path
