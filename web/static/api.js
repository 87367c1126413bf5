// REST calls with the session's CSRF token on every write; errors carry the server's stable code.
let csrfToken = null;

export function setCsrf(token) { csrfToken = token; }

export async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json();
  if (!res.ok) {
    const error = new Error(data && data.error ? data.error.message : res.statusText);
    error.code = data && data.error ? data.error.code : "http_" + res.status;
    error.status = res.status;
    throw error;
  }
  return data;
}
