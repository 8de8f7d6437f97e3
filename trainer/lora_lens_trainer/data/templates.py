"""The named chat templates the bundled trainer knows, for tokenizers that ship none (base models).

Each renders what its model family's own tokenizer_config.json `chat_template` renders for system, user and
assistant turns, character for character (trainer/tests/test_chat_templates.py renders both through transformers'
apply_chat_template on the same rows); tool calls are left out. Where the family's template refuses a turn
(a system turn for Gemma and Mistral, turns out of user/assistant order), this one refuses it too, with a message
that says what to change. The names are also listed in schemas/trainer-capabilities.json, which the language
server reads so that `check` offers only these; a test keeps the two lists equal.

Standard library only: the plan stage and `run --dry-run` import this without torch or transformers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .readers import DataError

SystemRole = Literal["native", "default", "folded", "refused"]


@dataclass(frozen=True)
class NamedTemplate:
    jinja: str
    # native: a system turn of its own; default: one is inserted when the row has none; folded: merged into the
    # first user turn; refused: the family's template raises on it, and so does this one.
    system_role: SystemRole
    # The template raises unless user and assistant turns alternate, starting with user (after an optional system).
    alternating: bool
    source: str
    # A role other than system, user and assistant (e.g. tool): rendered like the others, dropped, or refused.
    other_roles: Literal["rendered", "dropped", "refused"] = "rendered"


def _alternation(name: str, first: str) -> str:
    return (
        f"{{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}}{{{{ raise_exception('chat_template {name}: "
        f"turns must alternate user/assistant/user/... {first}(as its model family\\'s own template requires); "
        f"merge consecutive turns of one role or use another template') }}}}{{% endif %}}"
    )


def _chatml(default_system: str | None) -> str:
    head = ""
    if default_system is not None:
        head = (
            "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
            + default_system
            + "<|im_end|>\n' }}{% endif %}"
        )
    return (
        head + "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )


_NO_SYSTEM = (
    "{{% if messages[0]['role'] == 'system' %}}{{{{ raise_exception('chat_template {name}: a system turn is "
    "not supported ({source} refuses it too): put its text at the start of the first user turn, or use a "
    "template with a system role') }}}}{{% endif %}}"
)

_MISTRAL_SOURCE = "mistralai/Mistral-7B-Instruct-v0.2"
_GEMMA_SOURCE = "google/gemma-2-9b-it"

NAMED: dict[str, NamedTemplate] = {
    "chatml": NamedTemplate(_chatml(None), "native", False, "teknium/OpenHermes-2.5-Mistral-7B"),
    "qwen2": NamedTemplate(_chatml("You are a helpful assistant."), "default", False, "Qwen/Qwen2-7B-Instruct"),
    "qwen2.5": NamedTemplate(
        _chatml("You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
        "default",
        False,
        "Qwen/Qwen2.5-7B-Instruct",
    ),
    "llama2": NamedTemplate(
        "{% if messages[0]['role'] == 'system' %}{% set turns = messages[1:] %}{% set system = messages[0]['content'] %}"
        "{% else %}{% set turns = messages %}{% set system = none %}{% endif %}"
        "{% for m in turns %}"
        + _alternation("llama2", "after an optional system turn ")
        + "{% if loop.first and system is not none %}"
        "{% set content = '<<SYS>>\n' + system + '\n<</SYS>>\n\n' + m['content'] %}"
        "{% else %}{% set content = m['content'] %}{% endif %}"
        "{% if m['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
        "{% elif m['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
        "folded",
        True,
        "meta-llama/Llama-2-7b-chat-hf",
        other_roles="dropped",
    ),
    "llama3": NamedTemplate(
        "{{ bos_token }}{% for m in messages %}"
        "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
        "native",
        False,
        "meta-llama/Meta-Llama-3-8B-Instruct",
    ),
    "mistral": NamedTemplate(
        _NO_SYSTEM.format(name="mistral", source=_MISTRAL_SOURCE)
        + "{{ bos_token }}{% for m in messages %}"
        + _alternation("mistral", "")
        + "{% if m['role'] == 'user' %}{{ '[INST] ' + m['content'] + ' [/INST]' }}"
        "{% elif m['role'] == 'assistant' %}{{ m['content'] + eos_token }}{% else %}{{ raise_exception('chat_template "
        "mistral: only user and assistant turns are supported (as in its model family\\'s own template)') }}"
        "{% endif %}{% endfor %}",
        "refused",
        True,
        _MISTRAL_SOURCE,
        other_roles="refused",
    ),
    "gemma": NamedTemplate(
        _NO_SYSTEM.format(name="gemma", source=_GEMMA_SOURCE)
        + "{{ bos_token }}{% for m in messages %}"
        + _alternation("gemma", "")
        + "{{ '<start_of_turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\n' + m['content'] | trim"
        " + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}",
        "refused",
        True,
        _GEMMA_SOURCE,
    ),
    "phi3": NamedTemplate(
        "{% for m in messages %}{% if m['role'] in ['system', 'user', 'assistant'] %}"
        "{{ '<|' + m['role'] + '|>\n' + m['content'] + '<|end|>\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}",
        "native",
        False,
        "microsoft/Phi-3-mini-4k-instruct",
        other_roles="dropped",
    ),
    "zephyr": NamedTemplate(
        "{% for m in messages %}{% if m['role'] in ['system', 'user', 'assistant'] %}"
        "{{ '<|' + m['role'] + '|>\n' + m['content'] + eos_token + '\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt and messages %}{{ '<|assistant|>\n' }}{% endif %}",
        "native",
        False,
        "HuggingFaceH4/zephyr-7b-beta",
        other_roles="dropped",
    ),
}

# The Jinja text by name (kept under its old name for the modules that import it).
NAMED_TEMPLATES: dict[str, str] = {name: t.jinja for name, t in NAMED.items()}


def is_jinja(setting: str) -> bool:
    return "{%" in setting or "{{" in setting


def unknown_name_message(setting: str) -> str:
    return f"data.chat_template: {setting!r} is neither 'auto', a known name ({', '.join(NAMED)}) nor Jinja"


def resolve_chat_template(tokenizer: Any, setting: str) -> str | None:
    """The Jinja text to use: the tokenizer's own ('auto'), a named one, or the inline Jinja itself."""
    if setting == "auto":
        return getattr(tokenizer, "chat_template", None) or None
    if setting in NAMED:
        return NAMED[setting].jinja
    if is_jinja(setting):
        return setting
    raise DataError(unknown_name_message(setting))


def structural_problem(name: str, messages: list[dict[str, Any]]) -> str | None:
    """What the named template refuses in these (well-formed) messages, without rendering: a system turn where the
    family has none, turns out of user/assistant order where it requires alternation. None when it renders."""
    t = NAMED[name]
    turns = messages
    if messages and messages[0]["role"] == "system":
        if t.system_role == "refused":
            return (
                f"chat_template {name}: a system turn is not supported ({t.source} refuses it too): put its text "
                "at the start of the first user turn, or use a template with a system role"
            )
        turns = messages[1:] if t.alternating else messages
    if t.other_roles == "refused":
        for i, m in enumerate(turns):
            if m["role"] not in ("user", "assistant"):
                return (
                    f"chat_template {name}: only user and assistant turns are supported (message {i + 1} is "
                    f"{m['role']!r})"
                )
    if t.alternating:
        for i, m in enumerate(turns):
            if (m["role"] == "user") != (i % 2 == 0):
                return (
                    f"chat_template {name}: turns must alternate user/assistant/user/... (message {i + 1} is "
                    f"{m['role']!r}); merge consecutive turns of one role or use another template"
                )
    return None


def render_without_tokenizer(
    jinja: str,
    messages: list[dict[str, Any]],
    add_generation_prompt: bool,
    bos_token: str = "<s>",
    eos_token: str = "</s>",
) -> str | None:
    """The template rendered as transformers renders it (a sandboxed Jinja environment with trim_blocks and
    lstrip_blocks, raise_exception as a global), for checks that have no tokenizer; None when jinja2 is absent
    (the torch-free install). A refusal raises DataError with the template's message."""
    env = _environment()
    if env is None:
        return None
    try:
        return env.from_string(jinja).render(
            messages=messages, add_generation_prompt=add_generation_prompt, bos_token=bos_token, eos_token=eos_token
        )
    except Exception as error:  # TemplateError from raise_exception, or a template bug
        raise DataError(str(error)) from error


_ENV: list[Any] = []


def _environment() -> Any:
    if not _ENV:
        try:
            from jinja2.exceptions import TemplateError
            from jinja2.sandbox import ImmutableSandboxedEnvironment
        except ImportError:
            _ENV.append(None)
            return None

        def raise_exception(message: str) -> None:
            raise TemplateError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = raise_exception
        _ENV.append(env)
    return _ENV[0]
