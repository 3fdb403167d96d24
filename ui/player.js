// Enhances the share page's plain <video controls>: speed buttons with the pitch kept (the
// browser's default), the creator's default speed, the viewer's choice remembered, the time
// saved at that speed, chapter buttons that seek, and keyboard shortcuts.
const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3];
const box = document.querySelector(".player");
const video = box?.querySelector("video");
if (video) {
  const stored = Number(localStorage.getItem("reel.speed"));
  const initial = SPEEDS.includes(stored) ? stored : Number(box.dataset.defaultSpeed) || 1;
  const bar = document.createElement("div");
  bar.className = "controls";
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "Playback speed");
  const saved = document.createElement("span");
  saved.className = "saved";
  saved.setAttribute("aria-live", "polite");
  const buttons = SPEEDS.map((s) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `${s}x`;
    b.addEventListener("click", () => setSpeed(s, true));
    bar.append(b);
    return [s, b];
  });
  bar.append(saved);
  box.append(bar);

  const fmt = (t) => `${Math.floor(t / 60)}:${String(Math.round(t % 60)).padStart(2, "0")}`;
  function setSpeed(s, remember) {
    video.preservesPitch = true;
    video.playbackRate = s;
    for (const [v, b] of buttons) b.setAttribute("aria-pressed", String(v === s));
    const d = Number(box.dataset.duration) || video.duration || 0;
    saved.textContent = s > 1 && d ? `at ${s}x this takes ${fmt(d / s)} — you save ${fmt(d - d / s)}` : "";
    if (remember) localStorage.setItem("reel.speed", String(s));
  }
  setSpeed(initial, false);
  video.addEventListener("loadedmetadata", () => setSpeed(video.playbackRate, false));

  for (const b of document.querySelectorAll(".chapters button")) {
    b.addEventListener("click", () => { video.currentTime = Number(b.dataset.t); video.play(); });
  }
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement) return;
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
      case "f": document.fullscreenElement ? document.exitFullscreen() : video.requestFullscreen(); break;
    }
  });
}
