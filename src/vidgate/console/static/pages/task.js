// A task's page: its facts, request and inputs, result video, live timeline from the task's
// event stream, webhook deliveries (with redelivery) and a cancel button while it runs.
"use strict";

document.addEventListener("alpine:init", () => {
  const TERMINAL = ["completed", "failed", "cancelled"];
  const LABELS = {
    "task.queued": "queued",
    "task.processing": "processing",
    "task.completed": "completed",
    "task.failed": "failed",
    "task.cancelled": "cancelled",
  };
  const INPUT_LABELS = {
    img_url: "image",
    first_frame_url: "first frame",
    last_frame_url: "last frame",
    reference_urls: "reference",
    video_url: "video",
    ref_images_url: "reference image",
    mask_image_url: "mask image",
    mask_video_url: "mask video",
  };

  Alpine.data("taskDetail", (taskId) => ({
    taskId,
    task: null,
    request: null,
    loading: true,
    notFound: false,
    loadError: null,
    actionError: null,
    cancelling: false,
    timeline: [],
    deliveries: [],
    deliveryError: null,
    redelivering: null,
    source: null,

    async init() {
      const path = `/v1/tasks/${encodeURIComponent(this.taskId)}`;
      try {
        this.task = await vidgate.api(path);
      } catch (err) {
        if (err.status === 404) this.notFound = true;
        else this.loadError = `Could not load the task: ${err.message}`;
        this.loading = false;
        return;
      }
      this.loading = false;
      document.title = `Task ${this.short(this.task.prompt)} · vidgate console`;
      this.follow();
      vidgate.api(`${path}/request`).then((r) => { this.request = r; }).catch(() => {});
      if (this.task.callback_url) this.loadDeliveries();
    },

    get cancellable() {
      return this.task && (this.task.status === "queued" || this.task.status === "processing");
    },

    // The task's events from its first one; the stream ends after the terminal event.
    follow() {
      const url = new URL(`/v1/tasks/${encodeURIComponent(this.taskId)}/events`, location.origin);
      const source = new EventSource(url, { withCredentials: true });
      this.source = source;
      const handler = (message) => {
        let data;
        try { data = JSON.parse(message.data); } catch { return; }
        this.onEvent(message.type, data);
        if (TERMINAL.includes(data.status)) source.close();
      };
      for (const type of ["task.progress", ...Object.keys(LABELS)]) {
        source.addEventListener(type, handler);
      }
      window.addEventListener("pagehide", () => source.close());
    },

    onEvent(type, data) {
      if (this.timeline.some((item) => item.ids.includes(data.id))) return;
      const last = this.timeline[this.timeline.length - 1];
      if (type === "task.progress") {
        if (last && last.progress !== undefined) {
          last.progress = data.progress;
          last.label = `progress ${data.progress}%`;
          last.at = data.created_at;
          last.ids.push(data.id);
        } else {
          this.timeline.push({
            id: data.id, ids: [data.id], status: data.status, progress: data.progress,
            label: `progress ${data.progress}%`, at: data.created_at,
          });
        }
      } else {
        this.timeline.push({
          id: data.id, ids: [data.id], status: data.status,
          label: LABELS[type] || type, at: data.created_at,
        });
      }
      if (!this.task || TERMINAL.includes(this.task.status)) return;
      if (data.task) {
        this.task = data.task;
        if (this.task.callback_url) this.loadDeliveries();
      } else if (Date.parse(data.created_at) > Date.parse(this.task.updated_at)) {
        this.task.status = data.status;
        this.task.progress = data.progress;
        this.task.updated_at = data.created_at;
      }
    },

    async cancel() {
      this.cancelling = true;
      this.actionError = null;
      try {
        this.task = await vidgate.api(`/v1/tasks/${encodeURIComponent(this.taskId)}/cancel`, {
          method: "POST",
        });
      } catch (err) {
        this.actionError = `Could not cancel: ${err.message}`;
      } finally {
        this.cancelling = false;
      }
    },

    async loadDeliveries() {
      try {
        const answer = await vidgate.api(`/v1/tasks/${encodeURIComponent(this.taskId)}/deliveries`);
        this.deliveries = answer.data;
        this.deliveryError = null;
      } catch (err) {
        this.deliveryError = `Could not load the deliveries: ${err.message}`;
      }
    },

    // Queue the delivery again, then follow it until its new attempt is logged (or 15 s).
    async redeliver(delivery) {
      this.redelivering = delivery.id;
      this.deliveryError = null;
      const path = `/v1/tasks/${encodeURIComponent(this.taskId)}/deliveries/` +
        `${encodeURIComponent(delivery.id)}/redeliver`;
      try {
        const before = delivery.attempts.length;
        const queued = await vidgate.api(path, { method: "POST" });
        Object.assign(delivery, queued);
        const deadline = Date.now() + 15000;
        while (Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 1000));
          await this.loadDeliveries();
          const now = this.deliveries.find((d) => d.id === delivery.id);
          if (!now || now.attempts.length > before) break;
        }
      } catch (err) {
        this.deliveryError = `Could not redeliver: ${err.message}`;
      } finally {
        this.redelivering = null;
      }
    },

    deliveryClass(status) {
      const shown = { delivered: "completed", failed: "failed", pending: "queued" };
      return vidgate.statusClass(shown[status] || status);
    },

    describeResult() {
      const r = this.task.result;
      const parts = [];
      if (r.duration) parts.push(`${r.duration} s`);
      if (r.width && r.height) parts.push(`${r.width}×${r.height}`);
      if (r.fps) parts.push(`${r.fps} fps`);
      if (r.format) parts.push(r.format.toUpperCase());
      return parts.join(" · ");
    },

    waitingText() {
      const status = this.task.status;
      if (status === "queued") return "Waiting in the queue; the video appears here when it is ready.";
      if (status === "processing") return "Rendering; the video appears here when it is ready.";
      if (status === "failed") return "No video: the task failed.";
      if (status === "cancelled") return "No video: the task was cancelled.";
      return "No video.";
    },

    took() {
      const start = Date.parse(this.task.started_at || this.task.created_at);
      const end = Date.parse(this.task.finished_at);
      if (isNaN(start) || isNaN(end)) return "";
      return vidgate.seconds(Math.max(0, end - start) / 1000);
    },

    parameters() {
      const shown = this.request ? { ...this.request.parameters } : {
        model: this.task.model, mode: this.task.mode, duration: this.task.duration,
        size: this.task.size,
      };
      delete shown.prompt;
      if (this.request) shown.seed = this.request.seed;
      if (this.task.metadata && !shown.metadata) shown.metadata = this.task.metadata;
      return JSON.stringify(shown, null, 2);
    },

    inputLabel(field) {
      return INPUT_LABELS[field] || field;
    },

    short(prompt) {
      if (!prompt) return this.taskId;
      return prompt.length > 40 ? `${prompt.slice(0, 38).trimEnd()}…` : prompt;
    },
  }));
});
