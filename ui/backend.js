// The one module through which the UI talks to Rust: Tauri's invoke in the app, fetch over
// HTTP when the same UI is served by a Reel server in a plain browser. Errors are {code, message}.
export async function call(command, args = {}) {
  if (window.__TAURI__?.core?.invoke) {
    return window.__TAURI__.core.invoke(command, args);
  }
  const res = await fetch(`/api/${command}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(args),
  });
  const body = await res.json().catch(() => ({ code: "bad_response", message: `HTTP ${res.status}` }));
  if (!res.ok) throw body;
  return body;
}

/// A library recording's file (video.mp4, poster.jpg, preview.gif) from the app's loopback
/// server: WebKitGTK plays media only over http.
export function mediaUrl(id, file) {
  const { server, secret } = document.body.dataset;
  return `${server}/app/${secret}/rec/${encodeURIComponent(id)}/${file}`;
}
