// The tasks page: the key's tasks, the first page from the list API, then kept up to date by
// the gateway's event stream alone (new tasks on top, status and progress as they change).
"use strict";

document.addEventListener("alpine:init", () => {
  const STATUSES = ["queued", "processing", "completed", "failed", "cancelled"];
  const FILTERS = ["status", "model", "provider", "created_after", "created_before"];
  const time = (value) => (value ? Date.parse(value) : NaN);
  const newestFirst = (a, b) => time(b.created_at) - time(a.created_at) ||
    (a.task_id < b.task_id ? 1 : -1);

  Alpine.data("taskList", () => ({
    statuses: STATUSES,
    catalog: [],
    filters: Object.fromEntries(FILTERS.map((name) => [name, ""])),
    tasks: [],
    loading: true,
    loadingMore: false,
    error: null,
    hasMore: false,
    nextAfter: null,
    live: false,
    submitted: new URLSearchParams(location.search).get("submitted") || "",
    lastEventId: "",
    loadedWith: "",
    waiting: null,
    fetching: null,

    init() {
      this.waiting = [];
      this.fetching = new Map();
      const query = new URLSearchParams(location.search);
      for (const name of FILTERS) this.filters[name] = query.get(name) || "";
      vidgate.api("/v1/models").then((answer) => { this.catalog = answer.data; }).catch(() => {});
      this.load().then(() => this.follow());
    },

    get models() {
      return this.options(this.catalog.map((m) => m.id), "model");
    },

    get providers() {
      return this.options(this.catalog.map((m) => m.provider), "provider");
    },

    options(fromCatalog, field) {
      const names = new Set([...fromCatalog, ...this.tasks.map((t) => t[field])]);
      if (this.filters[field]) names.add(this.filters[field]);
      names.delete("");
      names.delete(undefined);
      return [...names].sort();
    },

    get filtered() {
      return FILTERS.some((name) => this.filters[name]);
    },

    get visible() {
      return this.tasks.filter((task) => this.matches(task));
    },

    matches(task) {
      const f = this.filters;
      if (f.status && task.status !== f.status) return false;
      if (f.model && task.model !== f.model) return false;
      if (f.provider && task.provider !== f.provider) return false;
      const created = time(task.created_at);
      if (f.created_after && !(created >= new Date(f.created_after).getTime())) return false;
      if (f.created_before && !(created < new Date(f.created_before).getTime())) return false;
      return true;
    },

    // The list API applies every filter; live events are matched here against the same ones.
    listQuery() {
      const f = this.filters;
      const iso = (local) => (local ? new Date(local).toISOString() : "");
      return {
        status: f.status,
        model: f.model,
        provider: f.provider,
        created_after: iso(f.created_after),
        created_before: iso(f.created_before),
        limit: 50,
      };
    },

    async load() {
      this.loading = true;
      this.error = null;
      const query = this.listQuery();
      this.loadedWith = JSON.stringify(query);
      try {
        const page = await vidgate.api("/v1/tasks", { query });
        if (!this.lastEventId) this.lastEventId = page.last_event_id;
        this.tasks = page.data.sort(newestFirst);
        this.hasMore = page.has_more;
        this.nextAfter = page.next_after;
      } catch (err) {
        this.error = `Could not load the tasks: ${err.message}`;
      } finally {
        this.loading = false;
      }
      const held = this.waiting.splice(0);
      for (const [type, data] of held) this.onEvent(type, data);
    },

    async more() {
      this.loadingMore = true;
      try {
        const page = await vidgate.api("/v1/tasks", {
          query: { ...this.listQuery(), after: this.nextAfter },
        });
        for (const task of page.data) this.add(task);
        this.hasMore = page.has_more;
        this.nextAfter = page.next_after;
      } catch (err) {
        this.error = `Could not load older tasks: ${err.message}`;
      } finally {
        this.loadingMore = false;
      }
    },

    follow() {
      // From the moment the first page was read: the key's history is not replayed.
      const query = this.lastEventId ? { last_event_id: this.lastEventId } : {};
      const source = vidgate.follow(query, (type, data) => this.onEvent(type, data));
      source.onopen = () => { this.live = true; };
      source.onerror = () => { this.live = false; };
      window.addEventListener("pagehide", () => source.close());
    },

    find(taskId) {
      return this.tasks.find((t) => t.task_id === taskId);
    },

    onEvent(type, data) {
      if (!data || typeof data !== "object" || !data.task_id) return;
      if (this.loading) { this.waiting.push([type, data]); return; }
      const at = time(data.created_at);
      const known = this.find(data.task_id);
      if (known) {
        if (at <= time(known.updated_at)) return;
        if (data.task) {
          Object.assign(known, data.task);
        } else {
          known.status = data.status;
          known.progress = data.progress;
          known.updated_at = data.created_at;
        }
        return;
      }
      const pending = this.fetching.get(data.task_id);
      if (pending) { pending.push([type, data]); return; }
      if (data.task) { this.add(data.task); return; }
      this.fetchTask(data.task_id);
    },

    // A task first heard of by a non-terminal event: read it once, then replay what came meanwhile.
    async fetchTask(taskId) {
      const held = [];
      this.fetching.set(taskId, held);
      try {
        this.add(await vidgate.api(`/v1/tasks/${encodeURIComponent(taskId)}`));
      } catch {
        // Gone already (deleted) or unreadable: nothing to show.
      } finally {
        this.fetching.delete(taskId);
      }
      for (const [type, data] of held) this.onEvent(type, data);
    },

    add(task) {
      if (this.find(task.task_id)) return;
      this.tasks.push(task);
      this.tasks.sort(newestFirst);
    },

    applyFilters() {
      const url = new URL(location.href);
      for (const name of FILTERS) {
        if (this.filters[name]) url.searchParams.set(name, this.filters[name]);
        else url.searchParams.delete(name);
      }
      history.replaceState(null, "", url);
      if (JSON.stringify(this.listQuery()) !== this.loadedWith) this.load();
    },

    clearFilters() {
      for (const name of FILTERS) this.filters[name] = "";
      this.applyFilters();
    },

    detail(task) {
      return `/console/tasks/${encodeURIComponent(task.task_id)}`;
    },

    open(task, event) {
      if (event.target.closest("a, button")) return;
      location.href = this.detail(task);
    },

    thumbnail(task) {
      return `/v1/videos/${encodeURIComponent(task.task_id)}/content?variant=thumbnail`;
    },

    short(prompt) {
      if (!prompt) return "(no prompt)";
      return prompt.length > 90 ? `${prompt.slice(0, 88).trimEnd()}…` : prompt;
    },
  }));
});
