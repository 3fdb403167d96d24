// The one module through which the UI talks to Rust: Tauri's invoke in the app, or the same
// calls over HTTP when the app's server serves this UI to a plain browser
// (`/app/SECRET/ui/index.html` → `/app/SECRET/api/COMMAND`). Errors are {code, message}.
export async function call(command, args = {}) {
  if (window.__TAURI__?.core?.invoke) {
    return window.__TAURI__.core.invoke(command, args);
  }
  const res = await fetch(new URL(`../api/${command}`, location.href), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(args, (k, v) => (k === "progress" ? undefined : v)),
  });
  const body = await res.json().catch(() => ({ code: "bad_response", message: `HTTP ${res.status}` }));
  if (!res.ok) throw body;
  // Binary results (preview frames) come as base64 over HTTP, as bytes from Tauri.
  if (body && typeof body.jpeg_base64 === "string") {
    return Uint8Array.from(atob(body.jpeg_base64), (c) => c.charCodeAt(0)).buffer;
  }
  return body;
}

/// A library recording's file (video.mp4, poster.jpg, preview.gif) from the app's loopback
/// server: WebKitGTK plays media only over http.
export function mediaUrl(id, file) {
  const { server, secret } = document.body.dataset;
  return `${server}/app/${secret}/rec/${encodeURIComponent(id)}/${file}`;
}
