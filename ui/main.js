// The desktop app's UI: three views over one backend module (ui/backend.js). Recorder: live
// preview of exactly what will be recorded, pickers, layouts, countdown, record/pause/stop.
// Library: posters (animated preview on hover), search as you type, sort. Player: the share
// page's own player (ui/player.js), rename, delete, share.
import { call, mediaUrl } from "./backend.js";
import { enhance, fmt, setShortcuts, shortcutsOn } from "./player.js";

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...kids) => { const e = Object.assign(document.createElement(tag), props); e.append(...kids); return e; };

// Errors stay until dismissed (✕) or until what caused them works again; `where` is the box
// next to the control that failed (the top banner when there is none).
export function showError(e, where = "error") {
  const box = $(where);
  box.querySelector(".text").textContent = e?.message ?? String(e);
  box.hidden = false;
}
function clearError(where) { $(where).hidden = true; }
for (const b of document.querySelectorAll("#error .dismiss, .field-error .dismiss")) b.addEventListener("click", () => { b.parentElement.hidden = true; });

// ---- views ----
let view = "record";
function show(name) {
  view = name;
  for (const v of ["record", "library", "watch", "settings"]) $(`view-${v}`).hidden = v !== name;
  // A focus left inside a view now hidden (a Back or Stop button) would drop to the end of the
  // page, and the next Tab out of it: the new view takes the focus, so Tab goes on from there.
  const from = document.activeElement;
  if (!from || from === document.body || from.closest("section[hidden]")) $(`view-${name}`).focus({ preventScroll: true });
  for (const b of document.querySelectorAll("nav button")) {
    const here = b.dataset.view === name || (name === "watch" && b.dataset.view === "library");
    if (here) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  if (name === "record") previewLoop();
  if (name === "library") loadLibrary();
  if (name === "settings") loadSettings();
}

// ---- settings ----
let settings = null;
async function loadSettings() {
  try {
    settings = await call("settings_get");
    const f = $("settings");
    for (const [k, v] of Object.entries(settings)) if (f.elements[k]) f.elements[k].value = v ?? "";
    $("serving").textContent = document.body.dataset.shareBase ?? "";
    showHttpWarning();
  } catch (e) { showError(e); }
}
/// A field's own message (next to it, announced), shown until the field is changed.
function fieldMessage(f, name, text) {
  const input = f.elements[name];
  if (!input) return false;
  let msg = document.getElementById(`msg-${name}`);
  if (!msg) {
    msg = el("span", { id: `msg-${name}`, className: "field-msg" });
    msg.setAttribute("aria-live", "polite");
    input.closest("label").after(msg);
    input.setAttribute("aria-describedby", msg.id);
    input.addEventListener("input", () => fieldMessage(f, name, ""));
  }
  msg.textContent = text;
  msg.hidden = !text;
  input.setAttribute("aria-invalid", String(Boolean(text)));
  return true;
}
$("shortcuts-setting").checked = shortcutsOn();
$("shortcuts-setting").addEventListener("change", (e) => setShortcuts(e.target.checked));
$("settings").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = $("settings");
  // The status says what the last action did, nothing older.
  $("settings-status").textContent = "";
  for (const m of f.querySelectorAll(".field-msg")) { m.textContent = ""; m.hidden = true; }
  for (const i of f.querySelectorAll("[aria-invalid=true]")) i.setAttribute("aria-invalid", "false");
  const next = {
    ...settings,
    library: f.elements.library.value.trim() || null, size: f.elements.size.value, fps: Number(f.elements.fps.value),
    quality: f.elements.quality.value, default_speed: Number(f.elements.default_speed.value), server_bind: f.elements.server_bind.value.trim() || "127.0.0.1:8787",
    public_url: f.elements.public_url.value.trim(),
    tls_cert: f.elements.tls_cert.value.trim(), tls_key: f.elements.tls_key.value.trim(),
  };
  try {
    const problems = await call("settings_check", { settings: next });
    if (problems.length) {
      // Each next to its field (two about one field, together); one without a field of its
      // own goes to the status.
      const byField = new Map();
      for (const p of problems) byField.set(p.field, [...(byField.get(p.field) ?? []), p.message]);
      const rest = [...byField].filter(([field, msgs]) => !fieldMessage(f, field, msgs.join(" "))).flatMap(([, msgs]) => msgs);
      const n = byField.size;
      $("settings-status").textContent = `Not saved: ${n === 1 ? "a field needs" : `${n} fields need`} attention.${rest.map((m) => ` ${m}`).join("")}`;
      f.querySelector("[aria-invalid=true]")?.focus();
      return;
    }
    await call("settings_set", { settings: next });
    settings = next;
    applySettings();
    await apply();
    $("settings-status").textContent = "Saved.";
  } catch (err) { $("settings-status").textContent = "Not saved."; showError(err); }
});
/// Settings that act at once: recording size, fps and quality; the share speed; the S3 place.
function applySettings() {
  if (!settings) return;
  config.size = settings.size; $("size").value = settings.size;
  config.fps = settings.fps;
  config.quality = settings.quality;
  $("share-speed").value = String(settings.default_speed);
}
/// The share dialog starts fresh: the speed links start at, the last S3 place published to,
/// no password, downloads allowed.
function resetShareDialog() {
  $("share-password").value = "";
  $("share-download").checked = true;
  if (!settings) return;
  $("share-speed").value = String(settings.default_speed);
  $("s3-target").value = settings.s3_target ?? "";
  $("s3-endpoint").value = settings.s3_endpoint ?? "";
  $("s3-region").value = settings.s3_region ?? "";
  $("s3-profile").value = settings.s3_profile ?? "";
}
for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => show(b.dataset.view));

// A link on a LAN address over plain HTTP: say what that means.
function showHttpWarning() {
  const url = $("settings").elements.public_url.value.trim() || (document.body.dataset.shareBase ?? "");
  $("http-warning").hidden = !(url.startsWith("http://") && !/^http:\/\/(127\.|localhost|\[::1\])/.test(url));
}
$("settings").elements.public_url.addEventListener("input", showHttpWarning);

// ---- recorder ----
const config = {
  camera: "synthetic", mic: "default", size: "720p", fps: 30, title: null, deck: null, quality: null, screen: null,
  scene: { layout: "camera", bubble: { size: "m", shape: "circle", corner: "bottom-right", mirror: true }, background: [24, 26, 32, 255] },
};
let slides = 0, slide = 0, recording = false, paused = false, startedAt = 0;

async function apply() {
  config.title = $("title").value.trim() || null;
  try {
    slides = await call("configure", { config });
    clearError("devices-error");
    slide = Math.min(slide, Math.max(0, slides - 1));
    $("slide-pos").textContent = slides ? `slide ${slide + 1} of ${slides}` : "";
    for (const b of document.querySelectorAll("[data-layout]")) b.setAttribute("aria-pressed", String(b.dataset.layout === config.scene.layout));
    kick();
  } catch (e) { showError(e, "devices-error"); }
}

// Frames are asked for only while the recorder is on screen and the window visible: an idle
// window costs nothing. During a recording the preview slows down to leave the CPU to it.
let looping = false, wake = null;
const kick = () => { if (wake) { wake(); wake = null; } };
async function previewLoop() {
  if (looping) return;
  looping = true;
  const img = $("preview");
  let last = null, failing = false;
  while (view === "record" && document.visibilityState === "visible") {
    const t0 = performance.now();
    try {
      const at = recording ? (performance.now() - startedAt) / 1000 : (performance.now() / 1000) % 60;
      const [buf, live] = await Promise.all([call("preview", { slide, at, width: 960 }), call("live")]);
      showLive(live);
      if (failing) { clearError("devices-error"); failing = false; }
      const url = URL.createObjectURL(new Blob([buf], { type: "image/jpeg" }));
      img.src = url;
      await img.decode().catch(() => {});
      // Request → composed → encoded → decoded and ready to paint (read by the desktop bench).
      const s = (window.reelPreviewStats ??= { frames: 0, total_ms: 0, max_ms: 0 });
      const ms = performance.now() - t0;
      s.frames += 1; s.total_ms += ms; s.max_ms = Math.max(s.max_ms, ms);
      if (last) URL.revokeObjectURL(last);
      last = url;
    } catch (e) { failing = true; showError(e, "devices-error"); await new Promise((r) => setTimeout(r, 1000)); }
    // 15 frames a second while you set up; fewer during a take, to leave the CPU to it.
    const gap = recording ? 200 : 66;
    await new Promise((r) => { wake = r; setTimeout(r, Math.max(0, gap - (performance.now() - t0))); });
  }
  looping = false;
  // Off the recorder, the camera's light goes off and the microphone closes. Said here, after
  // the loop's last request came back, so that no preview in flight opens them again.
  if (!recording && !starting) call("release_devices").catch(() => {});
}
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible" && view === "record") previewLoop(); });

// The level meter and the camera's state, before and during a take.
function showLive(live) {
  if (!live) return;
  if (recording) return; // during a take the recording's own status (statusLoop) says it
  $("level").value = Math.min(1, Math.sqrt(live.level_rms * 4));
  setNotice(live.camera?.state === "disconnected");
  $("level").title = live.mic_error ?? (live.mic ? `Listening to ${live.mic}` : "");
}

function setNotice(down) {
  $("camera-notice").textContent = recording ? "Camera disconnected — the recording goes on; plug it back in to continue" : "Camera disconnected — plug it back in";
  $("camera-notice").hidden = !down;
}

// The recording's file format and devices cannot change mid-take.
function lockDevices(on) { for (const id of ["camera", "mic", "size"]) $(id).disabled = on; }

let starting = false;
async function startRecording() {
  if (starting || recording) return;
  starting = true;
  $("record").disabled = true;
  clearError("record-error");
  lockDevices(true);
  const cd = $("countdown");
  cd.hidden = false;
  for (const n of [3, 2, 1]) { cd.textContent = String(n); await new Promise((r) => setTimeout(r, 1000)); }
  cd.hidden = true;
  cd.textContent = "";
  try {
    await call("start_recording");
    recording = true; paused = false; startedAt = performance.now();
    $("record").hidden = true;
    for (const id of ["pause", "stop", "restart"]) $(id).hidden = false;
    $("rec-badge").hidden = false;
    statusLoop();
  } catch (e) {
    // Said in words, next to the button: no silent return to idle.
    showError({ message: `The recording did not start: ${e?.message ?? e}` }, "record-error");
    lockDevices(false);
  }
  $("record").disabled = false;
  starting = false;
}

// Status (timer, level) is read only while recording.
async function statusLoop() {
  let spaceWarned = false;
  while (recording) {
    const s = await call("recording_status").catch(() => null);
    if (s) {
      $("timer").textContent = fmt(s.elapsed_s);
      $("level").value = Math.min(1, Math.sqrt(s.level_rms * 4));
      $("slide-pos").textContent = s.slides ? `slide ${s.slide + 1} of ${s.slides}` : "";
      setNotice(s.camera_down);
      slide = s.slide;
      // The disk: said under two minutes left; when the recorder stopped itself to keep the
      // take, the take is finished here as if Stop were pressed.
      if (s.stopped_for_space) {
        showError({ message: "The disk is nearly full: the recording stopped by itself and is being saved. Free some space before the next take." }, "record-error");
        stopRecording();
        break;
      }
      if (s.disk_left_s != null && s.disk_left_s < 120 && !spaceWarned) {
        spaceWarned = true;
        showError({ message: `The disk holds about ${Math.round(s.disk_left_s)} s more of this recording; it will stop by itself, saved, before the disk is full.` }, "record-error");
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  $("level").value = 0;
}

function resetRecorderButtons() {
  recording = false;
  lockDevices(false);
  $("camera-notice").hidden = true;
  $("record").hidden = false;
  for (const id of ["pause", "stop", "restart"]) $(id).hidden = true;
  $("rec-badge").hidden = true;
  $("pause").textContent = "Pause";
}

async function stopRecording() {
  $("stop").disabled = true;
  try {
    const entry = await call("stop_recording");
    resetRecorderButtons();
    await openRecording(entry.id);
  } catch (e) {
    showError(e, "record-error");
    // What was saved before the disk filled up can be recovered once there is space.
    if (e?.code === "disk_full") offerRecovery().catch(() => {});
  } finally { $("stop").disabled = false; }
}

$("record").addEventListener("click", startRecording);
$("stop").addEventListener("click", stopRecording);
$("pause").addEventListener("click", async () => {
  try { paused = !paused; await call("pause_recording", { pause: paused }); $("pause").textContent = paused ? "Resume" : "Pause"; } catch (e) { showError(e); }
});
$("restart").addEventListener("click", async () => {
  try { await call("discard_recording"); resetRecorderButtons(); await startRecording(); } catch (e) { showError(e); }
});

async function stage(line) {
  if (recording) { try { await call("stage_command", { line }); } catch (e) { showError(e); } return; }
  if (line === "n") slide = Math.min(slide + 1, Math.max(0, slides - 1));
  else if (line === "p") slide = Math.max(0, slide - 1);
  else if (line.startsWith("l ")) { config.scene.layout = line.slice(2); await apply(); return; }
  $("slide-pos").textContent = slides ? `slide ${slide + 1} of ${slides}` : "";
  kick();
}
for (const b of document.querySelectorAll("[data-layout]")) b.addEventListener("click", () => { config.scene.layout = b.dataset.layout; recording ? stage(`l ${b.dataset.layout}`) : apply(); });
for (const [id, set] of [
  ["camera", (v) => { config.camera = v; }], ["mic", (v) => { config.mic = v; }], ["size", (v) => { config.size = v; }],
  ["bubble-size", (v) => { config.scene.bubble.size = v; }], ["bubble-shape", (v) => { config.scene.bubble.shape = v; }],
  ["bubble-corner", (v) => { config.scene.bubble.corner = v; }],
]) $(id).addEventListener("change", (e) => { set(e.target.value); apply(); });
$("mirror").addEventListener("change", (e) => { config.scene.bubble.mirror = e.target.checked; apply(); });
$("title").addEventListener("change", apply);
$("deck").addEventListener("change", (e) => { config.deck = e.target.value.trim() || null; config.screen = null; if (config.deck && config.scene.layout === "camera") config.scene.layout = "bubble"; apply(); });
$("no-deck").addEventListener("click", () => { config.deck = null; config.screen = null; $("deck").value = ""; if (["slides", "screen"].includes(config.scene.layout)) config.scene.layout = "camera"; apply(); });

document.addEventListener("keydown", (e) => {
  // Keys typed into a field, and Ctrl/Alt/Cmd combinations (Ctrl+R reloads), are not shortcuts;
  // Space on a focused button presses that button.
  const t = e.target;
  const typing = t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement || t?.isContentEditable;
  if (!shortcutsOn() || view !== "record" || typing || e.ctrlKey || e.altKey || e.metaKey) return;
  if (e.key === "r" || e.key === "R") { if (recording) stopRecording(); else if (!starting) startRecording(); }
  else if (e.key === " " && recording && !(t instanceof HTMLButtonElement)) { e.preventDefault(); $("pause").click(); }
  else if (e.key === "ArrowRight") stage("n");
  else if (e.key === "ArrowLeft") stage("p");
  else if ("123456".includes(e.key) && e.key !== "") stage(`l ${["bubble", "side", "pip", "camera", "slides", "screen"][Number(e.key) - 1]}`);
});

// Drag and drop of a folder or PDF (Tauri gives the paths).
window.__TAURI__?.webview?.getCurrentWebview?.().onDragDropEvent?.((ev) => {
  if (ev.payload.type === "drop" && ev.payload.paths?.length) {
    $("deck").value = ev.payload.paths[0];
    $("deck").dispatchEvent(new Event("change"));
  }
});

// ---- library ----
let entries = [];
async function loadLibrary() {
  try {
    const q = $("search").value.trim();
    entries = q ? await call("library_search", { query: q }) : await call("library_list");
    renderGrid();
  } catch (e) { showError(e); }
}
function renderGrid() {
  const sorted = [...entries];
  const by = $("sort").value;
  if ($("search").value.trim() === "" || by !== "new") {
    sorted.sort((a, b) => by === "old" ? a.created.localeCompare(b.created) : by === "title" ? a.title.localeCompare(b.title) : by === "long" ? b.duration_s - a.duration_s : b.created.localeCompare(a.created));
  }
  const grid = $("grid");
  if (!sorted.length) {
    grid.replaceChildren(el("li", { className: "muted", textContent: $("search").value ? "Nothing matches." : "No recordings yet — record one!" }));
    return;
  }
  grid.replaceChildren(...sorted.map((e) => {
    const img = el("img", { alt: "", loading: "lazy", src: mediaUrl(e.id, "poster.jpg") });
    // A card is a button in a list item: named by what it shows, opened with Enter or Space.
    // A hit in what was said: the line, the words marked, and where it was said.
    const said = e.snippet ? el("div", { className: "said" }, el("span", { className: "at", textContent: fmt(e.at ?? 0) }), " ",
      ...e.snippet.split(/(«[^»]*»)/).filter(Boolean).map((p) => p.startsWith("«") ? el("mark", { textContent: p.slice(1, -1) }) : p)) : "";
    const card = el("button", { type: "button", className: "card" }, img, el("div", { className: "info" },
      el("div", { className: "title", textContent: e.title }),
      el("div", { className: "muted", textContent: `${fmt(e.duration_s)} · ${e.created.slice(0, 10)}` }),
      said,
      e.warning ? el("div", { className: "broken", textContent: e.warning }) : ""));
    const li = el("li", {}, card);
    li.dataset.id = e.id;
    li.addEventListener("mouseenter", () => { img.src = mediaUrl(e.id, "preview.gif"); });
    li.addEventListener("mouseleave", () => { img.src = mediaUrl(e.id, "poster.jpg"); });
    li.addEventListener("click", () => openRecording(e.id, e.at));
    return li;
  }));
}
let searchTimer;
$("search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadLibrary, 120); });
$("sort").addEventListener("change", renderGrid);

// ---- player ----
let current = null;
async function openRecording(id, at) {
  try {
    const r = await call("recording", { id });
    current = r.entry.id;
    $("watch-title").value = r.entry.title;
    $("watch-desc").value = r.meta?.description ?? "";
    $("edit-a").value = "0";
    $("edit-b").value = (r.entry.duration_s ?? 0).toFixed(1);
    const meta = r.meta ?? { chapters: [], duration_s: r.entry.duration_s };
    const video = el("video", { controls: true, preload: "metadata", src: mediaUrl(current, "video.mp4"), poster: mediaUrl(current, "poster.jpg") });
    video.setAttribute("playsinline", "");
    // Captions (made from what was said, or attached): off until 'c', and the transcript panel.
    if (r.has_captions) video.append(el("track", { kind: "captions", srclang: "en", label: "Captions", src: mediaUrl(current, "captions.vtt") }));
    // Opened from a search hit: at the moment the words were said.
    if (typeof at === "number") video.addEventListener("loadedmetadata", () => { video.currentTime = at; }, { once: true });
    const box = el("div", { className: "player" }, video);
    box.dataset.defaultSpeed = "1";
    box.dataset.duration = String(meta.duration_s || 0);
    const chapters = el("ol", { className: "chapters" }, ...meta.chapters.map((c) => {
      const b = el("button", { type: "button" }, `${c.title} `, el("span", { textContent: fmt(c.start_s) }));
      b.dataset.t = String(c.start_s);
      return el("li", {}, b);
    }));
    const comments = el("ol", { className: "comments" }, ...r.feedback.comments.map((c) => {
      const at = el("button", { type: "button", className: "at", textContent: fmt(c.at_s) });
      at.addEventListener("click", () => { video.currentTime = c.at_s; video.play(); });
      return el("li", {}, at, " ", el("b", { className: "name", textContent: c.name }), el("p", { className: "body", textContent: c.body }));
    }));
    const reactions = r.feedback.reactions.map((x) => `${fmt(x.at_s)} ${x.emoji}`).join("  ");
    $("watch").replaceChildren(box, el("nav", { ariaLabel: "Chapters" }, chapters),
      el("section", { className: "feedback" }, el("h2", { textContent: `Comments · ${r.feedback.views} views` }), comments, el("p", { className: "muted", textContent: reactions })));
    enhance(box);
    // Shown once rebuilt: a focus that was in the old player moves to the view, not nowhere.
    show("watch");
    loadStrip(current);
  } catch (e) { showError(e); }
}
$("back").addEventListener("click", () => show("library"));

// ---- edit, export, publish: long jobs with a progress bar ----
async function runJob(label, command, args) {
  const bar = $("job");
  // One job at a time from the editor: a second click cannot start another over the first.
  const buttons = ["trim", "cut", "export"].map($);
  for (const b of buttons) b.disabled = true;
  bar.hidden = false; bar.value = 0;
  $("job-text").textContent = `${label}…`;
  const ch = window.__TAURI__?.core?.Channel ? new window.__TAURI__.core.Channel() : null;
  if (ch) ch.onmessage = (x) => { bar.value = x; };
  try {
    const r = await call(command, { ...args, progress: ch });
    bar.value = 1;
    return r;
  } finally {
    for (const b of buttons) b.disabled = false;
    setTimeout(() => { bar.hidden = true; }, 1500);
  }
}
const video = () => document.querySelector("#watch video");
// The filmstrip: the selected range and the playhead drawn over it; a click seeks there.
function drawStrip() {
  const d = Number(document.querySelector("#watch .player")?.dataset.duration) || 0;
  if (!d) return;
  const a = Math.max(0, Number($("edit-a").value)), b = Math.min(d, Number($("edit-b").value));
  Object.assign($("strip-sel").style, { left: `${(a / d) * 100}%`, width: `${Math.max(0, (b - a) / d) * 100}%` });
  $("strip-head").style.left = `${((video()?.currentTime ?? 0) / d) * 100}%`;
}
async function loadStrip(id) {
  $("strip-box").hidden = true;
  try {
    await call("filmstrip", { id });
    if (id !== current) return;
    $("strip").src = `${mediaUrl(id, "strip.jpg")}?v=${Date.now()}`;
    $("strip-box").hidden = false;
    drawStrip();
    video()?.addEventListener("timeupdate", drawStrip);
  } catch (e) { showError(e); }
}
$("strip").addEventListener("click", (e) => {
  const d = Number(document.querySelector("#watch .player")?.dataset.duration) || 0;
  const r = e.target.getBoundingClientRect();
  if (video() && d) { video().currentTime = ((e.clientX - r.left) / r.width) * d; drawStrip(); }
});
for (const id of ["edit-a", "edit-b"]) $(id).addEventListener("input", drawStrip);
$("edit-a-here").addEventListener("click", () => { $("edit-a").value = (video()?.currentTime ?? 0).toFixed(1); drawStrip(); });
$("edit-b-here").addEventListener("click", () => { $("edit-b").value = (video()?.currentTime ?? 0).toFixed(1); drawStrip(); });
for (const [id, command, label] of [["trim", "trim", "Trimming"], ["cut", "cut", "Cutting"]]) {
  $(id).addEventListener("click", async () => {
    const a = Number($("edit-a").value), b = Number($("edit-b").value);
    const args = command === "trim" ? { id: current, start: a, end: b } : { id: current, from: a, to: b };
    try { await runJob(label, command, args); $("job-text").textContent = "Done. The previous version is in the trash."; await openRecording(current); } catch (e) { $("job-text").textContent = ""; showError(e); }
  });
}
// Export: the desktop app asks where, in the system's save dialog (which asks before replacing
// a file), starting at a name no earlier export has taken; the UI over HTTP (no dialog) uses
// that name.
$("export").addEventListener("click", async () => {
  const speed = Number($("export-speed").value);
  try {
    let output = null, replace = false;
    const dialog = window.__TAURI__?.dialog;
    if (dialog?.save) {
      // No default (a read-only home, say): the dialog opens anyway, for the user to pick.
      const suggested = await call("export_default", { id: current, speed }).catch(() => undefined);
      $("export").disabled = true;
      try {
        output = await dialog.save({ title: "Export", defaultPath: suggested, filters: [{ name: "MP4 video", extensions: ["mp4"] }] });
      } finally { $("export").disabled = false; }
      if (!output) { $("job-text").textContent = "Export cancelled."; return; }
      // The dialog asked before replacing the name as typed; a name given ".mp4" here was not asked about.
      replace = /\.mp4$/i.test(output);
      if (!replace) output += ".mp4";
    }
    const out = await runJob("Exporting", "export", { id: current, speed, output, replace });
    $("job-text").textContent = `Exported to ${out}`;
  } catch (e) { $("job-text").textContent = ""; showError(e); }
});
// ---- share: a link on this network, or published to S3 ----
function shareWay() { return $("share-dialog").querySelector("input[name=way]:checked").value; }
for (const r of document.querySelectorAll("#share-dialog input[name=way]")) r.addEventListener("change", () => {
  $("way-server").hidden = shareWay() !== "server";
  $("way-s3").hidden = shareWay() !== "s3";
  clearError("share-error");
  $("share-url").value = "";
});
async function showS3Keys() {
  const hint = await call("s3_keys").catch(() => null);
  $("s3-keys-state").textContent = hint ? `Keys stored in this app (owner-only file): ${hint}` : "No keys stored: enter them (kept in an owner-only file), or name an AWS profile.";
  $("s3-keys-form").hidden = Boolean(hint);
  $("s3-keys-forget").hidden = !hint;
}
$("s3-keys-save").addEventListener("click", async () => {
  try {
    await call("s3_keys_set", { accessKey: $("s3-access").value, secretKey: $("s3-secret").value });
    $("s3-access").value = ""; $("s3-secret").value = "";
    clearError("share-error");
    await showS3Keys();
  } catch (e) { showError(e, "share-error"); }
});
$("s3-keys-forget").addEventListener("click", async () => {
  try { await call("s3_keys_forget"); await showS3Keys(); } catch (e) { showError(e, "share-error"); }
});
$("publish").addEventListener("click", async () => {
  const place = { target: $("s3-target").value.trim(), endpoint: $("s3-endpoint").value.trim() || null, region: $("s3-region").value.trim() || null, profile: $("s3-profile").value.trim() || null };
  const bar = $("publish-job");
  const ch = window.__TAURI__?.core?.Channel ? new window.__TAURI__.core.Channel() : null;
  if (ch) ch.onmessage = (x) => { bar.value = x; };
  bar.hidden = false; bar.value = 0; $("publish").disabled = true;
  clearError("share-error");
  try {
    $("share-url").value = await call("publish", { id: current, place, progress: ch });
    bar.value = 1;
    $("share-url").select();
    // The place is kept for next time (not the keys: those have their own file).
    if (settings) {
      const next = { ...settings, s3_target: place.target, s3_endpoint: place.endpoint ?? "", s3_region: place.region ?? "", s3_profile: place.profile ?? "" };
      await call("settings_set", { settings: next }).then(() => { settings = next; }).catch(() => {});
    }
  } catch (e) { showError(e, "share-error"); } finally { $("publish").disabled = false; setTimeout(() => { bar.hidden = true; }, 1500); }
});
$("watch-desc").addEventListener("change", async (e) => { try { await call("describe", { id: current, text: e.target.value }); } catch (err) { showError(err); } });

// ---- trash ----
$("show-trash").addEventListener("click", async () => {
  const box = $("trash");
  box.hidden = !box.hidden;
  if (box.hidden) return;
  const items = await call("trash_list").catch((e) => { showError(e); return []; });
  box.replaceChildren(...(items.length ? items.map((t) => {
    const b = el("button", { type: "button", textContent: "Restore" });
    b.addEventListener("click", async () => { try { await call("restore", { name: t.name }); b.disabled = true; b.textContent = "Restored"; loadLibrary(); } catch (e) { showError(e); } });
    return el("li", {}, el("span", { textContent: t.title }), el("span", { className: "muted", textContent: t.name }), b);
  }) : [el("li", { className: "muted", textContent: "The trash is empty." })]));
});
$("watch-title").addEventListener("change", async (e) => { try { await call("rename", { id: current, title: e.target.value }); } catch (err) { showError(err); } });
$("delete").addEventListener("click", async () => {
  if (!confirm("Move this recording to the trash? You can restore it until the trash is emptied.")) return;
  try { await call("delete", { id: current }); show("library"); } catch (e) { showError(e); }
});
$("share").addEventListener("click", async () => {
  $("share-url").value = "";
  clearError("share-error");
  const base = document.body.dataset.shareBase ?? "";
  $("share-where").textContent = base ? `(${base})` : "";
  $("share-local").hidden = !/^https?:\/\/(127\.|localhost|\[::1\])/.test(base);
  if (!settings) settings = await call("settings_get").catch(() => null);
  resetShareDialog();
  showS3Keys();
  $("share-dialog").showModal();
});
$("share-make").addEventListener("click", async () => {
  clearError("share-error");
  try {
    $("share-url").value = await call("share_link", {
      id: current, password: $("share-password").value || null, expires: $("share-expires").value || null,
      defaultSpeed: Number($("share-speed").value), allowDownload: $("share-download").checked,
    });
    $("share-url").select();
  } catch (e) { showError(e, "share-error"); }
});
$("share-copy").addEventListener("click", async () => { await navigator.clipboard?.writeText($("share-url").value).catch(() => {}); $("share-url").select(); });

// ---- start ----
async function start() {
  try {
    // The media server starts beside the window: wait for it a little rather than fail.
    let info = null;
    for (let i = 0; !info; i++) {
      try { info = await call("app_info"); } catch (e) { if (e?.code !== "busy" || i > 100) throw e; await new Promise((r) => setTimeout(r, 100)); }
    }
    document.body.dataset.server = info.server;
    document.body.dataset.secret = info.secret;
    $("library-path").textContent = `Library: ${info.library}`;
    document.body.dataset.shareBase = info.share_base;
    const scheme = (await call("settings_get").catch(() => null))?.tls_cert ? "https" : "http";
    $("lan-addresses").replaceChildren(...info.lan_addresses.map((ip) => el("option", { value: `${scheme}://${ip.includes(":") ? `[${ip}]` : ip}:8787` })));
    $("use-screen").hidden = !info.display;
    $("use-screen").addEventListener("click", () => { config.screen = info.display; config.deck = null; $("deck").value = ""; if (config.scene.layout === "camera") config.scene.layout = "bubble"; apply(); });
    $("demo-deck").addEventListener("click", () => { $("deck").value = info.demo_deck ?? ""; $("deck").dispatchEvent(new Event("change")); });
    const d = await call("devices");
    $("camera").replaceChildren(...d.cameras.map((c) => el("option", { value: String(c.index), textContent: c.name, title: c.pick ? `${c.pick.format.toUpperCase()} ${c.pick.width}x${c.pick.height} at ${c.pick.fps} fps` : (c.error ?? "") })),
      el("option", { value: "synthetic", textContent: "Demo camera (test pattern)", selected: d.cameras.length === 0 }),
      el("option", { value: "none", textContent: "No camera" }));
    config.camera = $("camera").value;
    // The system default first and selected; speaker monitors last, marked (they record what
    // plays, not a voice), never the default pick.
    $("mic").replaceChildren(...d.mics.map((m) => el("option", { value: m.is_default && !m.is_monitor ? "default" : m.name, textContent: m.name + (m.is_monitor ? " (speaker monitor)" : m.is_default ? " (system default)" : "") })),
      el("option", { value: "tone", textContent: "Test tone" }), el("option", { value: "none", textContent: "No microphone" }));
    const real = d.mics.filter((m) => !m.is_monitor);
    $("mic").value = !real.length ? "tone" : real[0].is_default ? "default" : real[0].name;
    config.mic = $("mic").value;
    settings = await call("settings_get").catch(() => null);
    applySettings();
    await offerRecovery();
    await apply();
    previewLoop();
  } catch (e) { showError(e); }
}
// Interrupted recordings (a crash, a power loss, a full disk) are offered for recovery.
async function offerRecovery() {
  const lost = await call("interrupted");
  if (lost.length) {
    $("recover-text").textContent = `${lost.length} recording(s) were interrupted (a crash, power loss or full disk) and can be saved.`;
    $("recover-all").disabled = false;
    $("recover").hidden = false;
  }
}
$("recover-all").addEventListener("click", async () => {
  $("recover-all").disabled = true;
  $("recover-text").textContent = "Recovering…";
  try {
    const r = await call("recover_all");
    const ok = r.filter((x) => x.Ok).length;
    const failed = r.filter((x) => x.Err).map((x) => x.Err.message);
    $("recover-text").textContent = `Recovered ${ok} of ${r.length}. ${failed.join(" ")}`;
    $("recover-all").hidden = true;
    if (!failed.length) setTimeout(() => { $("recover").hidden = true; }, 6000);
    if (view === "library") loadLibrary();
  } catch (e) { showError(e); }
});
start();
