import { call } from "./backend.js";

const $ = (id) => document.getElementById(id);

function fill(list, items, empty) {
  list.replaceChildren();
  if (items.length === 0) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = empty;
    list.append(li);
  }
  for (const text of items) {
    const li = document.createElement("li");
    li.textContent = text; // never innerHTML: device names are not ours
    list.append(li);
  }
}

function showError(e) {
  const el = $("error");
  el.textContent = e?.message ?? String(e);
  el.hidden = false;
}

async function load() {
  try {
    const d = await call("devices");
    fill($("cameras"), [...d.cameras.map((c) => c.name), "Demo camera (test pattern)"], "");
    fill($("mics"), d.mics.map((m) => m.name + (m.is_default ? " (default)" : "")), "No microphone found — record video only, or use the test tone.");
    const rec = await call("interrupted");
    fill($("interrupted"), rec.map((s) => s.output), "None — every recording was finished.");
  } catch (e) {
    showError(e);
  }
}

load();
