// Shared helpers of the vidgate console: calls to the gateway's JSON API with the session
// cookie and its CSRF token, errors shown as the API words them, and small formatters.
"use strict";

const vidgate = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

  class ApiError extends Error {
    constructor(status, body) {
      const error = body && body.error ? body.error : {};
      super(error.message || `The gateway answered ${status}.`);
      this.status = status;
      this.code = error.code || error.type || null;
      this.param = error.param || null;
    }
  }

  // Call the gateway's API. `body` is sent as JSON unless it is FormData.
  async function api(path, { method = "GET", body, query } = {}) {
    const url = new URL(path, location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const headers = { Accept: "application/json" };
    let payload;
    if (body instanceof FormData) {
      payload = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    if (method !== "GET") headers["X-CSRF-Token"] = csrf();
    const response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
    if (response.status === 401) {
      location.href = `/console/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`;
      throw new ApiError(401, null);
    }
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // Follow the gateway's event stream; `onEvent(type, data)` for each event. The browser's
  // EventSource reconnects by itself and resumes from the last event id it saw.
  function follow(query, onEvent) {
    const url = new URL("/v1/events", location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value) url.searchParams.set(name, value);
    }
    const source = new EventSource(url, { withCredentials: true });
    const handler = (message) => {
      let data = null;
      try { data = JSON.parse(message.data); } catch { data = message.data; }
      onEvent(message.type, data, message.lastEventId);
    };
    for (const type of ["task.queued", "task.processing", "task.progress", "task.completed",
      "task.failed", "task.cancelled"]) {
      source.addEventListener(type, handler);
    }
    return source;
  }

  const statusClass = (status) => `status status-${status || "unknown"}`;

  function when(value) {
    if (value === null || value === undefined || value === "") return "";
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return isNaN(date) ? String(value) : date.toLocaleString();
  }

  function seconds(value) {
    if (value === null || value === undefined) return "";
    const s = Number(value);
    if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
    const m = Math.floor(s / 60);
    return `${m} min ${Math.round(s - m * 60)} s`;
  }

  return { api, ApiError, follow, statusClass, when, seconds, csrf };
})();
