// Admin providers page: each provider's load now and its error rate over the last hour.
"use strict";

document.addEventListener("alpine:init", () => {
  Alpine.data("adminProviders", () => ({
    providers: [],
    loading: true,
    error: "",
    checked: "",

    init() {
      this.load();
      setInterval(() => { if (!this.loading) this.load(); }, 10000);
    },

    async load() {
      this.loading = true;
      try {
        this.providers = (await vidgate.api("/admin/v1/providers")).data;
        this.checked = new Date().toLocaleTimeString();
        this.error = "";
      } catch (error) {
        this.error = error.message;
      } finally {
        this.loading = false;
      }
    },

    windowText() {
      const seconds = this.providers.length ? this.providers[0].window_seconds : 3600;
      return seconds % 3600 === 0 ? (seconds === 3600 ? "hour" : `${seconds / 3600} hours`) : `${Math.round(seconds / 60)} minutes`;
    },

    percent(rate) { return `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)} %`; },

    rateClass(rate) { return rate >= 0.25 ? "rate-bad" : rate > 0 ? "rate-warn" : "rate-ok"; },
  }));
});
