// Enhances the share page's plain <video controls> (which plays with no script at all):
// speed buttons with the pitch kept (the browser's default), the creator's default speed, the
// viewer's choice remembered, the time saved at that speed, chapters, captions, a timeline
// with chapters, comments and reactions marked on it, comments and reactions at a moment,
// unique views, and keyboard shortcuts. The desktop app reuses it: everything it needs is on
// the .player element (data-api is where the feedback endpoints live; none: feedback off).
const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3];
const REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "👏", "🤔", "🔥"];

const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};
export const fmt = (t) => {
  const s = Math.max(0, Math.round(t));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

/// A random id for this browser, made once: views are unique per browser, nothing personal.
function viewerId() {
  let id = localStorage.getItem("reel.viewer");
  if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) {
    const b = crypto.getRandomValues(new Uint8Array(16));
    id = btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    localStorage.setItem("reel.viewer", id);
  }
  return id;
}

async function api(base, path, body) {
  const res = await fetch(`${base}/${path}`, body === undefined ? {} : {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({ code: "bad_response", message: `HTTP ${res.status}` }));
  if (!res.ok) throw data;
  return data;
}

let keys = null;

/// Single-key shortcuts (WCAG 2.1.4): on unless turned off, a choice kept in this browser.
export function shortcutsOn() {
  try { return localStorage.getItem("reel.shortcuts") !== "off"; } catch { return true; }
}
export function setShortcuts(on) {
  try { localStorage.setItem("reel.shortcuts", on ? "on" : "off"); } catch { /* private mode: this page only */ }
}

export function enhance(box) {
  const video = box.querySelector("video");
  if (!video) return;
  // --no-download: no "Save video as…" on the video's own menu (discouraged, not prevented).
  if (box.querySelector("video[data-no-download]")) video.addEventListener("contextmenu", (e) => e.preventDefault());
  const base = box.dataset.api;
  const duration = () => Number(box.dataset.duration) || video.duration || 0;

  // Speed.
  const stored = Number(localStorage.getItem("reel.speed"));
  const initial = SPEEDS.includes(stored) ? stored : Number(box.dataset.defaultSpeed) || 1;
  const bar = el("div", { className: "controls" });
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "Playback speed");
  const saved = el("span", { className: "saved" });
  saved.setAttribute("aria-live", "polite");
  const buttons = SPEEDS.map((s) => {
    const b = el("button", { type: "button", textContent: `${s}x` });
    b.addEventListener("click", () => setSpeed(s, true));
    bar.append(b);
    return [s, b];
  });
  // The single-key shortcuts can be turned off (WCAG 2.1.4: they get in the way of speech
  // input and of some keyboards).
  const toggle = el("input", { type: "checkbox", checked: shortcutsOn() });
  toggle.addEventListener("change", () => setShortcuts(toggle.checked));
  const shortcuts = el("label", { className: "shortcuts" }, toggle, " Key shortcuts");
  shortcuts.title = "Space/k play, j/l ±10 s, ←/→ ±5 s, < > speed, m mute, c captions, f full screen";
  bar.append(saved);

  function setSpeed(s, remember) {
    video.preservesPitch = true;
    video.playbackRate = s;
    for (const [v, b] of buttons) b.setAttribute("aria-pressed", String(v === s));
    const d = duration();
    saved.textContent = s > 1 && d ? `at ${s}x this takes ${fmt(d / s)} — you save ${fmt(d - d / s)}` : "";
    if (remember) localStorage.setItem("reel.speed", String(s));
  }
  setSpeed(initial, false);
  video.addEventListener("loadedmetadata", () => setSpeed(video.playbackRate, false));

  // The file can be replaced while it plays (the download copy made after Stop swaps in, an
  // edit lands): the browser's next range then fails. Load it again where it was, at the same
  // speed, playing if it was — three times at most per page (a file that stays broken shows
  // its error). Not for signed links (published pages, whose files are never replaced: a
  // changed query would break the signature).
  let wanted = false, reloads = 0, restore = null;
  video.addEventListener("play", () => { wanted = true; });
  video.addEventListener("pause", () => { if (!video.error) wanted = false; });
  video.addEventListener("loadedmetadata", () => {
    if (!restore) return;
    const { t, rate, play } = restore;
    restore = null;
    video.currentTime = t;
    setSpeed(rate, false);
    if (play) video.play().catch(() => {});
  });
  video.addEventListener("error", () => {
    const src = video.currentSrc || video.src;
    if (!video.error || reloads >= 3 || !src || /[?&]X-Amz-Signature=/i.test(src)) return;
    reloads++;
    // What to come back to, taken once: a reload that fails keeps the first position.
    if (!restore) restore = { t: video.currentTime, rate: video.playbackRate, play: wanted };
    // A new address, so that nothing of the old file is taken from the browser's media cache.
    const u = new URL(src, location.href);
    u.searchParams.set("fresh", String(Date.now()));
    video.src = u.href;
  });

  const seek = (t) => { video.currentTime = t; video.play().catch(() => {}); };
  const chapterTimes = [...document.querySelectorAll(".chapters button")].map((b) => {
    b.addEventListener("click", () => seek(Number(b.dataset.t)));
    return { t: Number(b.dataset.t), label: b.firstChild?.textContent?.trim() ?? "" };
  });

  // The timeline: chapters, comments and reactions where they happen; click one to go there.
  const timeline = el("div", { className: "timeline" });
  timeline.setAttribute("role", "group");
  timeline.setAttribute("aria-label", "Moments");
  const mark = (t, cls, label, text = "") => {
    const d = duration();
    if (!d) return;
    const m = el("button", { type: "button", className: `mark ${cls}`, textContent: text, title: `${fmt(t)} ${label}` });
    m.setAttribute("aria-label", `${label} at ${fmt(t)}`);
    m.style.left = `${Math.min(100, (t / d) * 100)}%`;
    m.dataset.t = String(t);
    m.addEventListener("click", () => seek(t));
    timeline.append(m);
  };
  box.append(bar, shortcuts, timeline);

  // Captions: shown when the creator attached them; 'c' toggles.
  const captions = () => [...video.textTracks].find((t) => t.kind === "captions" || t.kind === "subtitles");
  const toggleCaptions = () => {
    const t = captions();
    if (t) t.mode = t.mode === "showing" ? "hidden" : "showing";
  };
  transcriptPanel(box, video);

  // One key listener per page: a player opened again (the app opens one per recording)
  // replaces the previous one's, instead of adding another each time.
  keys?.abort();
  keys = new AbortController();
  document.addEventListener("keydown", (e) => {
    if (!shortcutsOn() || e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
    // A focused control keeps its own keys (Space presses a button, arrows move a select).
    if (e.target instanceof Element && e.target.closest("button, select, summary, a, [role=button]")) return;
    // In the app a player can be replaced or hidden; only the one on screen answers.
    if (!video.isConnected || video.closest("[hidden]")) return;
    const i = SPEEDS.indexOf(video.playbackRate);
    switch (e.key) {
      case " ": case "k": e.preventDefault(); video.paused ? video.play() : video.pause(); break;
      case "j": video.currentTime -= 10; break;
      case "l": video.currentTime += 10; break;
      case "ArrowLeft": video.currentTime -= 5; break;
      case "ArrowRight": video.currentTime += 5; break;
      case "<": if (i > 0) setSpeed(SPEEDS[i - 1], true); break;
      case ">": if (i < SPEEDS.length - 1) setSpeed(SPEEDS[i + 1], true); break;
      case "m": video.muted = !video.muted; break;
      case "c": toggleCaptions(); break;
      case "f": document.fullscreenElement ? document.exitFullscreen() : video.requestFullscreen(); break;
    }
  }, { signal: keys.signal });

  if (!base) {
    for (const c of chapterTimes) mark(c.t, "chapter", c.label);
    return;
  }

  // Comments and reactions at a moment.
  const section = document.querySelector(".feedback") ?? box.parentElement.appendChild(el("section", { className: "feedback" }));
  const list = section.querySelector(".comments") ?? section.appendChild(el("ol", { className: "comments" }));
  const status = el("p", { className: "status" });
  status.setAttribute("role", "status");
  const reactBar = el("div", { className: "reactions" });
  reactBar.setAttribute("role", "group");
  reactBar.setAttribute("aria-label", "React at this moment");
  for (const emoji of REACTIONS) {
    const b = el("button", { type: "button", textContent: emoji });
    b.setAttribute("aria-label", `React ${emoji} at this moment`);
    b.addEventListener("click", async () => {
      try {
        await api(base, "reactions", { at: video.currentTime, emoji });
        await refresh();
      } catch (err) { status.textContent = err.message ?? String(err); }
    });
    reactBar.append(b);
  }
  const name = el("input", { name: "name", placeholder: "Your name", maxLength: 60, autocomplete: "name", value: localStorage.getItem("reel.name") ?? "" });
  name.setAttribute("aria-label", "Your name");
  const body = el("textarea", { name: "body", placeholder: "Comment at this moment…", maxLength: 2000, rows: 2, required: true });
  body.setAttribute("aria-label", "Comment");
  const at = el("span", { className: "at-now" });
  const send = el("button", { type: "submit", textContent: "Comment" });
  const form = el("form", { className: "comment-form" }, name, body, at, send);
  video.addEventListener("timeupdate", () => { at.textContent = `at ${fmt(video.currentTime)}`; });
  at.textContent = "at 0:00";
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    send.disabled = true;
    try {
      localStorage.setItem("reel.name", name.value.trim());
      await api(base, "comments", { at: video.currentTime, name: name.value, body: body.value });
      body.value = "";
      status.textContent = "Comment posted.";
      await refresh();
    } catch (err) {
      status.textContent = err.message ?? String(err);
    } finally {
      send.disabled = false;
    }
  });
  section.append(reactBar, form, status);

  const views = document.querySelector(".views");
  async function refresh() {
    const f = await api(base, "feedback");
    list.replaceChildren(...f.comments.map((c) => {
      const jump = el("button", { type: "button", className: "at", textContent: fmt(c.at_s) });
      jump.dataset.t = String(c.at_s);
      jump.addEventListener("click", () => seek(c.at_s));
      return el("li", {}, jump, " ", el("b", { className: "name", textContent: c.name }), el("p", { className: "body", textContent: c.body }));
    }));
    timeline.replaceChildren();
    for (const c of chapterTimes) mark(c.t, "chapter", c.label);
    for (const c of f.comments) mark(c.at_s, "comment", `${c.name}: ${c.body}`);
    for (const r of f.reactions) mark(r.at_s, "reaction", `reaction ${r.emoji}`, r.emoji);
    if (views) views.textContent = f.views === 1 ? "1 view" : `${f.views} views`;
  }
  // Once per page load, on the first play: a view is someone watching, not a link preview.
  video.addEventListener("play", () => {
    api(base, "views", { viewer: viewerId() }).then((r) => {
      if (views) views.textContent = r.views === 1 ? "1 view" : `${r.views} views`;
    }).catch(() => {});
  }, { once: true });
  const ready = () => refresh().catch((err) => { status.textContent = err.message ?? String(err); });
  if (duration()) ready(); else video.addEventListener("loadedmetadata", ready, { once: true });
}

// The transcript beside the video: the captions' lines, the one being said highlighted as it
// plays, a click on a line seeks there, and a search box that keeps the lines that match. Built
// from the captions track, so it shows whatever captions the recording has (made from what was
// said, or attached by the creator), in the app, on share pages and on published pages alike.
function transcriptPanel(box, video) {
  const el_ = box.querySelector("track[kind=captions], track[kind=subtitles]");
  if (!el_) return;
  const track = el_.track;
  // Cues load only for a track that is not disabled: hidden keeps them off screen.
  if (track.mode === "disabled") track.mode = "hidden";
  const build = () => {
    const cues = [...(track.cues ?? [])];
    if (!cues.length || box.nextElementSibling?.classList.contains("transcript")) return;
    const list = el("ol", { className: "lines" });
    const lines = cues.map((c) => {
      // The cue as a reader sees it: entities decoded, voice and style tags dropped.
      const text = (typeof c.getCueAsHTML === "function" ? c.getCueAsHTML().textContent : c.text) ?? "";
      const b = el("button", { type: "button" }, el("span", { className: "t", textContent: fmt(c.startTime) }), " ", el("span", { className: "text", textContent: text }));
      b.dataset.t = String(c.startTime);
      b.addEventListener("click", () => { video.currentTime = c.startTime; if (video.paused) video.play().catch(() => {}); });
      const li = el("li", {}, b);
      list.append(li);
      return { li, b, c, text };
    });
    const search = el("input", { type: "search", placeholder: "Search the transcript" });
    search.setAttribute("aria-label", "Search the transcript");
    const count = el("span", { className: "count" });
    count.setAttribute("aria-live", "polite");
    search.addEventListener("input", () => {
      const q = search.value.trim().toLowerCase();
      let n = 0;
      for (const l of lines) {
        const hit = !q || l.text.toLowerCase().includes(q);
        l.li.hidden = !hit;
        const span = l.b.querySelector(".text");
        if (q && hit) {
          // The matches marked, built from text nodes (never HTML from the captions).
          const i = l.text.toLowerCase().indexOf(q);
          span.replaceChildren(l.text.slice(0, i), el("mark", { textContent: l.text.slice(i, i + q.length) }), l.text.slice(i + q.length));
          n++;
        } else span.textContent = l.text;
      }
      count.textContent = q ? (n === 1 ? "1 line" : `${n} lines`) : "";
    });
    const panel = el("section", { className: "transcript" }, el("h2", { textContent: "Transcript" }), el("div", { className: "find" }, search, count), list);
    panel.setAttribute("aria-label", "Transcript");
    box.after(panel);
    let now = -1;
    const follow = () => {
      const t = video.currentTime;
      let i = -1;
      for (let k = 0; k < lines.length && lines[k].c.startTime <= t + 0.05; k++) i = k;
      if (i === now) return;
      if (now >= 0) { lines[now].li.classList.remove("now"); lines[now].b.removeAttribute("aria-current"); }
      now = i;
      if (i < 0) return;
      lines[i].li.classList.add("now");
      lines[i].b.setAttribute("aria-current", "true");
      // Scroll the list itself (not the page) to keep the line in view.
      const li = lines[i].li;
      if (li.offsetTop < list.scrollTop || li.offsetTop + li.offsetHeight > list.scrollTop + list.clientHeight) list.scrollTop = li.offsetTop - list.clientHeight / 3;
    };
    video.addEventListener("timeupdate", follow);
    video.addEventListener("seeked", follow);
    follow();
  };
  if (el_.readyState === 2) build();
  else el_.addEventListener("load", build, { once: true });
}

const box = document.querySelector(".player");
if (box) enhance(box);
