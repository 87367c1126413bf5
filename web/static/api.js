// REST calls with the session's CSRF token on every write; errors carry the server's stable code.
let csrfToken = null;

export function setCsrf(token) { csrfToken = token; }

async function send(method, path, body, contentType) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = contentType;
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const res = await fetch(path, { method, headers, body });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const error = new Error(data && data.error ? data.error.message : res.statusText);
    error.code = data && data.error ? data.error.code : "http_" + res.status;
    error.status = res.status;
    throw error;
  }
  return data;
}

export function api(method, path, body) {
  return send(method, path, body === undefined ? undefined : JSON.stringify(body), "application/json");
}

/** Send raw bytes (a file as it is, so the server can tell its encoding) with their content type. */
export function apiRaw(method, path, blob, contentType) {
  return send(method, path, blob, contentType);
}
