"""A user turn rendered through a tokenizer's chat template: the one rendering every
backend that formats prompts itself uses (in-process transformers, vLLM), so a prompt
found in-process is exactly the prompt another engine is sent."""

from __future__ import annotations

# Used only for models without a chat template (base models).
PLAIN_TEMPLATE = "{system}User: {user}\nAssistant:"


def render_chat(tokenizer, prompt: str, system_prompt: str | None = None) -> str:
    """The text a model sees for one user turn; no system message where `system_prompt`
    is None (the chat template's own default then applies)."""
    if not getattr(tokenizer, "chat_template", None):
        system = f"{system_prompt}\n" if system_prompt else ""
        return PLAIN_TEMPLATE.format(system=system, user=prompt)
    messages = [{"role": "user", "content": prompt}]
    if system_prompt is not None:
        messages.insert(0, {"role": "system", "content": system_prompt})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
