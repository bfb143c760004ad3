// Labels the item on the page from the keyboard (p, a, u; n for a note) and loads the next.
"use strict";

const KEYS = { p: "present", a: "absent", u: "unsure" };

function meta(name) {
  return document.querySelector(`meta[name="${name}"]`).content;
}

async function submit(label) {
  const item = document.getElementById("item");
  const status = document.getElementById("status");
  status.textContent = "saving…";
  const response = await fetch(`/label?token=${encodeURIComponent(meta("review-token"))}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": meta("csrf-token") },
    body: JSON.stringify({
      run_id: item.dataset.run,
      item_kind: item.dataset.kind,
      item_idx: Number(item.dataset.idx),
      label: label,
      note: document.getElementById("note").value,
      order: item.dataset.order,
    }),
  });
  if (response.ok) {
    window.location.reload();
  } else {
    const body = await response.json().catch(() => ({ error: response.statusText }));
    status.textContent = `not saved: ${body.error}`;
  }
}

document.addEventListener("keydown", (event) => {
  if (!document.getElementById("item") || event.ctrlKey || event.metaKey || event.altKey) {
    return;
  }
  const note = document.getElementById("note");
  if (document.activeElement === note) {
    if (event.key === "Escape") note.blur();
    return;
  }
  if (event.key === "n") {
    event.preventDefault();
    note.focus();
  } else if (KEYS[event.key]) {
    event.preventDefault();
    submit(KEYS[event.key]);
  }
});

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-label]")) {
    button.addEventListener("click", () => submit(button.dataset.label));
  }
});
