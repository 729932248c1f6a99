// Admin audit page: who changed what, when, with each change's before and after.
"use strict";

const AUDIT_PAGE = 50;
const AUDIT_ACTIONS = {
  "key.create": "Created key",
  "key.rename": "Renamed key",
  "key.revoke": "Revoked key",
  "key.rotate": "Rotated secret",
  "key.set_quota": "Set quota",
  "key.top_up": "Topped up quota",
  "key.set_limits": "Changed limits",
  "task.cancel": "Cancelled task",
};
// Fields of a key or task worth naming in a change; counters that move by themselves are left out.
const AUDIT_QUIET = new Set(["key_id", "task_id", "used", "reserved", "balance", "created_at"]);

document.addEventListener("alpine:init", () => {
  Alpine.data("adminAudit", () => ({
    entries: [],
    keys: {},
    target: "",
    hasOlder: false,
    loading: true,
    error: "",

    async init() {
      this.target = new URLSearchParams(location.search).get("target") || "";
      try {
        for (const key of (await vidgate.api("/admin/v1/keys")).data) this.keys[key.key_id] = key.name;
      } catch (error) {
        this.error = error.message;
      }
      await this.load();
    },

    async load() {
      const url = new URL(location.href);
      if (this.target) url.searchParams.set("target", this.target); else url.searchParams.delete("target");
      history.replaceState(null, "", url);
      await this.fetch(null);
    },

    older() { return this.fetch(this.entries[this.entries.length - 1].id); },

    async fetch(before) {
      this.loading = true;
      this.error = "";
      try {
        // One more than a page tells whether older entries remain.
        const page = await vidgate.api("/admin/v1/audit", { query: { target: this.target, before, limit: AUDIT_PAGE + 1 } });
        const shown = page.data.slice(0, AUDIT_PAGE);
        this.entries = before ? this.entries.concat(shown) : shown;
        this.hasOlder = page.data.length > AUDIT_PAGE;
      } catch (error) {
        this.error = error.message;
      } finally {
        this.loading = false;
      }
    },

    actor(actor) {
      if (!actor) return "—";
      const [kind, id] = actor.split(":", 2);
      if (kind === "key" && this.keys[id]) return this.keys[id];
      return actor;
    },

    actionText(action) { return AUDIT_ACTIONS[action] || action; },

    targetName(entry) {
      const side = entry.after || entry.before || {};
      if (entry.action.startsWith("task.")) return `task of ${this.keys[side.key_id] || side.key_id || "?"}`;
      return side.name || this.keys[entry.target] || "";
    },

    changes(entry) {
      const before = entry.before || {};
      const after = entry.after || {};
      const lines = [];
      for (const field of Object.keys({ ...before, ...after })) {
        if (AUDIT_QUIET.has(field)) continue;
        const was = show(before[field]);
        const now = show(after[field]);
        if (!entry.before) {
          if (after[field] !== null && after[field] !== false) lines.push({ field, after: now });
        } else if (was !== now) {
          lines.push({ field, before: was, after: now });
        }
      }
      if (entry.action === "key.rotate" && !lines.length) lines.push({ field: "secret", after: "replaced" });
      return lines;
    },

    json(value) { return value ? JSON.stringify(value, null, 2) : "—"; },
  }));
});

function show(value) {
  if (value === null || value === undefined) return "none";
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value)) return vidgate.when(value);
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}
