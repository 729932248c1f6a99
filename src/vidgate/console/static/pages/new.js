// The playground: a task form built from the models list (modes, durations, shapes, typical
// waits), image uploads through the files API, and the API's errors shown by the field.
"use strict";

document.addEventListener("alpine:init", () => {
  const SUPPORTED = ["t2v", "i2v", "kf2v"];
  const MODE_NAMES = {
    t2v: "text to video",
    i2v: "image to video",
    kf2v: "first and last frame",
    r2v: "reference to video",
    vace: "VACE editing",
  };
  const SLOTS = {
    t2v: [],
    i2v: [{ field: "img_url", label: "Image (the first frame)" }],
    kf2v: [
      { field: "first_frame_url", label: "First frame" },
      { field: "last_frame_url", label: "Last frame (optional)" },
    ],
  };
  const DEFAULT_MODEL = "wan2.6-t2v";
  const prefer = (choices, wanted, fallback) =>
    (choices || []).includes(wanted) ? wanted : (choices || []).includes(fallback) ? fallback
      : (choices || [])[0] || "";

  Alpine.data("playground", () => ({
    MODE_NAMES,
    catalog: [],
    error: null,
    fieldErrors: {},
    uploads: {},
    busy: {},
    submitting: false,
    form: {
      model: "", mode: "t2v", prompt: "", duration: 5, shape: "resolution", resolution: "720P",
      ratio: "16:9", size: "", negative_prompt: "", seed: "", callback_url: "",
    },

    async init() {
      try {
        this.catalog = (await vidgate.api("/v1/models")).data;
      } catch (err) {
        this.error = `Could not load the models: ${err.message}`;
        return;
      }
      const wanted = new URLSearchParams(location.search).get("model");
      const usable = this.usable;
      const first = usable.find((m) => m.id === wanted) || usable.find((m) => m.id === DEFAULT_MODEL) ||
        usable[0];
      if (first) this.form.model = first.id;
      this.modelChanged();
    },

    supported(mode) {
      return SUPPORTED.includes(mode);
    },

    get usable() {
      return this.catalog.filter((m) => m.modes.some((mode) => SUPPORTED.includes(mode)));
    },

    get model() {
      return this.catalog.find((m) => m.id === this.form.model) ||
        { id: "", modes: [], durations: [], resolutions: [], ratios: [], sizes: [], scenarios: [] };
    },

    get modes() {
      return this.model.modes.filter((mode) => SUPPORTED.includes(mode));
    },

    get slots() {
      return SLOTS[this.form.mode] || [];
    },

    get busyUploading() {
      return Object.values(this.busy).some(Boolean);
    },

    // The models list's typical wait for this mode, length and resolution.
    get scenario() {
      const rows = (this.model.scenarios || []).filter((s) => s.mode === this.form.mode);
      if (rows.length <= 1) return rows[0] || null;
      if (this.form.duration <= 5) return rows[0];
      const tier = this.form.shape === "resolution" ? this.form.resolution : this.sizeTier();
      return rows.find((s) => tier && s.description.includes(tier)) || rows[1];
    },

    sizeTier() {
      const [w, h] = (this.form.size || "").split(/[*x]/).map(Number);
      const short = Math.min(w, h);
      if (!short) return "";
      return short >= 1080 ? "1080P" : short >= 720 ? "720P" : "480P";
    },

    modelChanged() {
      const m = this.model;
      if (!this.modes.includes(this.form.mode)) this.form.mode = this.modes[0] || "t2v";
      if (!m.durations.includes(this.form.duration)) {
        this.form.duration = m.durations.includes(m.default_duration) ? m.default_duration : m.durations[0];
      }
      this.form.resolution = prefer(m.resolutions, this.form.resolution, "720P");
      this.form.ratio = prefer(m.ratios, this.form.ratio, "16:9");
      this.form.size = prefer(m.sizes, this.form.size, "");
      if (!(m.resolutions || []).length && (m.sizes || []).length) this.form.shape = "size";
      if (!(m.sizes || []).length) this.form.shape = "resolution";
      this.fieldErrors = {};
    },

    minutes(seconds) {
      if (!seconds) return "";
      return seconds % 60 === 0 ? `${seconds / 60} min` : vidgate.seconds(seconds);
    },

    durationRange() {
      const d = this.model.durations || [];
      if (!d.length) return "—";
      const contiguous = d.every((value, i) => i === 0 || value === d[i - 1] + 1);
      return contiguous && d.length > 2 ? `${d[0]}–${d[d.length - 1]} s` : `${d.join(", ")} s`;
    },

    async upload(slot, event) {
      const file = event.target.files[0];
      delete this.fieldErrors[slot.field];
      if (!file) return;
      const body = new FormData();
      body.append("file", file);
      this.busy[slot.field] = true;
      try {
        this.uploads[slot.field] = await vidgate.api("/v1/files", { method: "POST", body });
      } catch (err) {
        delete this.uploads[slot.field];
        this.fieldErrors[slot.field] = err.message;
        event.target.value = "";
      } finally {
        this.busy[slot.field] = false;
      }
    },

    clearUpload(slot) {
      delete this.uploads[slot.field];
      const input = document.getElementById(`upload-${slot.field}`);
      if (input) input.value = "";
    },

    body() {
      const f = this.form;
      const body = { model: f.model, mode: f.mode, prompt: f.prompt.trim(), duration: f.duration };
      if (f.shape === "size" && f.size) body.size = f.size;
      else Object.assign(body, { resolution: f.resolution, ratio: f.ratio });
      if (f.negative_prompt.trim()) body.negative_prompt = f.negative_prompt.trim();
      if (String(f.seed).trim() !== "") body.seed = Number(f.seed);
      if (f.callback_url.trim()) body.callback_url = f.callback_url.trim();
      for (const slot of this.slots) {
        if (this.uploads[slot.field]) body[slot.field] = this.uploads[slot.field].url;
      }
      return body;
    },

    // The API names the field at fault in `param`: show its message under that field.
    showError(err) {
      const param = (err.param || "").replace(/[[.].*$/, "");
      const shown = ["model", "prompt", "duration", "resolution", "ratio", "size", "negative_prompt",
        "seed", "callback_url", ...this.slots.map((s) => s.field)];
      if (param && shown.includes(param)) {
        this.fieldErrors = { [param]: err.message };
        if (param === "negative_prompt" || param === "seed") {
          document.querySelector("details.more-options").open = true;
        }
        this.$nextTick(() => {
          const target = document.getElementById(param) || document.getElementById(`upload-${param}`);
          if (target) target.focus();
        });
      } else {
        this.error = param ? `${param}: ${err.message}` : err.message;
      }
    },

    async submit() {
      this.error = null;
      this.fieldErrors = {};
      this.submitting = true;
      try {
        const task = await vidgate.api("/v1/tasks", { method: "POST", body: this.body() });
        location.href = `/console/?submitted=${encodeURIComponent(task.task_id)}`;
      } catch (err) {
        this.showError(err);
        this.submitting = false;
      }
    },
  }));
});
