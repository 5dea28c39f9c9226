// The only door to Rust: commands and events through Tauri's global API.
// The webview itself never talks to the network.

const tauri = window.__TAURI__;

/** Calls a Rust command. Rejects with `{code, message}` (the app's error shape). */
export async function invoke(command, args = {}) {
  try {
    return await tauri.core.invoke(command, args);
  } catch (error) {
    if (error && typeof error === 'object' && 'code' in error) throw error;
    throw { code: 'internal', message: String(error) };
  }
}

/** Listens to an app event; resolves to a function that stops listening. */
export function listen(event, handler) {
  return tauri.event.listen(event, (e) => handler(e.payload));
}
