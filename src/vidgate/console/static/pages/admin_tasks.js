// Admin tasks page: every key's tasks, filtered, with cancel.
"use strict";

document.addEventListener("alpine:init", () => {
  Alpine.data("adminTasks", () => ({
    statuses: ["queued", "processing", "completed", "failed", "cancelled"],
    filters: { status: "", key_id: "", model: "", provider: "" },
    keys: [],
    models: [],
    providers: [],
    tasks: [],
    next: null,
    live: true,
    loading: true,
    busy: null,
    error: "",
    timer: null,

    async init() {
      const params = new URLSearchParams(location.search);
      for (const name of Object.keys(this.filters)) this.filters[name] = params.get(name) || "";
      this.timer = setInterval(() => { if (this.live && !this.loading && this.tasks.length <= 100) this.load(true); }, 5000);
      try {
        const [keys, models, providers] = await Promise.all([
          vidgate.api("/admin/v1/keys"),
          vidgate.api("/v1/models"),
          vidgate.api("/admin/v1/providers"),
        ]);
        this.keys = keys.data;
        this.models = models.data.map((model) => model.id).sort();
        this.providers = providers.data.map((provider) => provider.provider);
      } catch (error) {
        this.error = error.message;
      }
      await this.load();
    },

    filtered() { return Object.values(this.filters).some(Boolean); },

    clear() {
      for (const name of Object.keys(this.filters)) this.filters[name] = "";
      this.load();
    },

    keyName(id) {
      const key = this.keys.find((k) => k.key_id === id);
      return key ? key.name : id;
    },

    // Reload from the newest task; a quiet reload keeps as many rows as are shown now.
    async load(quiet = false) {
      this.loading = true;
      if (!quiet) this.error = "";
      const url = new URL(location.href);
      for (const [name, value] of Object.entries(this.filters)) {
        if (value) url.searchParams.set(name, value); else url.searchParams.delete(name);
      }
      history.replaceState(null, "", url);
      try {
        const limit = quiet ? Math.min(100, Math.max(20, this.tasks.length)) : 20;
        const page = await vidgate.api("/admin/v1/tasks", { query: { ...this.filters, limit } });
        this.tasks = page.data;
        this.next = page.next_after;
      } catch (error) {
        this.error = error.message;
      } finally {
        this.loading = false;
      }
    },

    async more() {
      this.loading = true;
      try {
        const page = await vidgate.api("/admin/v1/tasks", { query: { ...this.filters, after: this.next } });
        this.tasks = this.tasks.concat(page.data);
        this.next = page.next_after;
      } catch (error) {
        this.error = error.message;
      } finally {
        this.loading = false;
      }
    },

    async cancel(task) {
      if (!confirm(`Cancel task ${task.task_id} of “${this.keyName(task.key_id)}”? Its reserved credits go back to its key.`)) return;
      this.busy = task.task_id;
      this.error = "";
      try {
        const cancelled = await vidgate.api(`/admin/v1/tasks/${task.task_id}/cancel`, { method: "POST" });
        this.tasks = this.tasks.map((t) => (t.task_id === cancelled.task_id ? cancelled : t));
      } catch (error) {
        this.error = error.message;
      } finally {
        this.busy = null;
      }
    },
  }));
});
