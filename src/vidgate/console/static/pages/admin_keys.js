// Admin keys page: list, create, revoke, rotate, and set quotas and limits.
"use strict";

const keysFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

// A number input's value for the admin API: null when empty, else a number.
function optionalNumber(value) {
  if (value === null || value === undefined || String(value).trim() === "") return null;
  return Number(value);
}

document.addEventListener("alpine:init", () => {
  Alpine.data("adminKeys", () => ({
    keys: [],
    me: "",
    loading: true,
    busy: false,
    error: "",
    showRevoked: true,
    form: { name: "", quota: "", admin: false },
    secret: null,
    copied: false,
    editing: null,
    edits: {},
    editError: "",

    init() {
      this.me = this.$el.dataset.me || "";
      this.load();
    },

    async load() {
      this.loading = true;
      this.error = "";
      try {
        this.keys = (await vidgate.api("/admin/v1/keys")).data;
      } catch (error) {
        this.error = error.message;
      } finally {
        this.loading = false;
      }
    },

    active() { return this.keys.filter((key) => !key.revoked_at); },
    shown() { return this.showRevoked ? this.keys : this.active(); },
    credits(value) { return value === null || value === undefined ? "—" : keysFormat.format(value); },
    day(value) { return value ? new Date(value).toLocaleDateString() : ""; },
    time(value) { return value ? new Date(value).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : ""; },
    limit(value) { return value === null || value === undefined ? "no limit" : String(value); },

    replace(changed) {
      const { key, ...shown } = changed;
      this.keys = this.keys.map((k) => (k.key_id === shown.key_id ? shown : k));
      return shown;
    },

    showSecret(title, key) {
      this.secret = { title, key };
      this.copied = false;
      window.scrollTo({ top: 0, behavior: "smooth" });
    },

    async copy() {
      try {
        await navigator.clipboard.writeText(this.secret.key);
      } catch {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById("new-secret"));
        const selection = getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        document.execCommand("copy");
      }
      this.copied = true;
    },

    async create() {
      this.busy = true;
      this.error = "";
      try {
        const body = { name: this.form.name, quota: optionalNumber(this.form.quota), admin: this.form.admin };
        const made = await vidgate.api("/admin/v1/keys", { method: "POST", body });
        const { key, ...shown } = made;
        this.keys = this.keys.concat([shown]);
        this.showSecret(`New key “${shown.name}”`, key);
        this.form = { name: "", quota: "", admin: false };
      } catch (error) {
        this.error = error.message;
      } finally {
        this.busy = false;
      }
    },

    async revoke(key) {
      if (!confirm(`Revoke the key “${key.name}”? Every call with it is refused from now on; this cannot be undone.`)) return;
      await this.change(`/admin/v1/keys/${key.key_id}/revoke`, undefined);
    },

    async rotate(key) {
      if (!confirm(`Give “${key.name}” a new secret? Its current secret stops working at once.`)) return;
      const changed = await this.change(`/admin/v1/keys/${key.key_id}/rotate`, undefined);
      if (changed) this.showSecret(`New secret for “${changed.name}”`, changed.key);
    },

    async change(path, body) {
      this.busy = true;
      this.error = "";
      try {
        const changed = await vidgate.api(path, { method: "POST", body });
        this.replace(changed);
        return changed;
      } catch (error) {
        this.error = error.message;
        return null;
      } finally {
        this.busy = false;
      }
    },

    edit(key, what) {
      this.editing = { key, what };
      this.editError = "";
      this.edits = {
        quota: key.quota ?? "",
        topUp: "",
        maxInFlight: key.max_in_flight ?? "",
        maxSubmits: key.max_submits_per_minute ?? "",
      };
      this.$nextTick(() => document.querySelector(".dialog input")?.focus());
    },

    async save(path, body) {
      this.busy = true;
      this.editError = "";
      try {
        this.replace(await vidgate.api(path, { method: "POST", body }));
        this.editing = null;
      } catch (error) {
        this.editError = error.message;
      } finally {
        this.busy = false;
      }
    },

    saveQuota() {
      return this.save(`/admin/v1/keys/${this.editing.key.key_id}/quota`, { quota: optionalNumber(this.edits.quota) });
    },

    topUp() {
      const amount = optionalNumber(this.edits.topUp);
      if (amount === null) { this.editError = "Enter the credits to add."; return; }
      return this.save(`/admin/v1/keys/${this.editing.key.key_id}/quota`, { top_up: amount });
    },

    saveLimits() {
      return this.save(`/admin/v1/keys/${this.editing.key.key_id}/limits`, {
        max_in_flight: optionalNumber(this.edits.maxInFlight),
        max_submits_per_minute: optionalNumber(this.edits.maxSubmits),
      });
    },
  }));
});
