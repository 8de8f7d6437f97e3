"""LoRA Lens trainer: reads a TrainingPlan (plan.json), trains, and streams JSON-line events.

Modules that need no torch (plan, events, data reading and ordering, schedule maths) import it nowhere at
module level, so the editor's pre-flight checks and CI can use them on machines without torch.
"""

__version__ = "0.1.0"
