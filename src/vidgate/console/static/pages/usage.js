// Usage page: the key's quota and limits, its spend over time (uPlot), its recent ledger.
"use strict";

const usageFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const HOUR = 3600;
const DAY = 24 * HOUR;
const CHART_PAGES = 20;

document.addEventListener("alpine:init", () => {
  Alpine.data("usage", () => ({
    account: null,
    entries: [],
    next: null,
    range: "day",
    spent: 0,
    charges: 0,
    entriesRead: 0,
    truncated: false,
    loading: true,
    error: "",
    plot: null,

    init() {
      this.load();
      window.addEventListener("resize", () => this.resize());
    },

    async load() {
      this.loading = true;
      this.error = "";
      try {
        const [account, ledger] = await Promise.all([
          vidgate.api("/v1/account"),
          vidgate.api("/v1/account/ledger", { query: { limit: 20 } }),
        ]);
        this.account = account;
        this.entries = ledger.data;
        this.next = ledger.next_after;
        await this.chart();
      } catch (error) {
        this.error = error.message;
      } finally {
        this.loading = false;
      }
    },

    async more() {
      this.loading = true;
      try {
        const ledger = await vidgate.api("/v1/account/ledger", { query: { limit: 20, after: this.next } });
        this.entries = this.entries.concat(ledger.data);
        this.next = ledger.next_after;
      } catch (error) {
        this.error = error.message;
      } finally {
        this.loading = false;
      }
    },

    setRange(range) {
      if (this.range === range) return;
      this.range = range;
      this.chart().catch((error) => { this.error = error.message; });
    },

    // Settle entries since the range's start, newest first, read page by page.
    async settled(since) {
      const found = [];
      let after = null;
      this.truncated = false;
      this.entriesRead = 0;
      for (let pages = 0; pages < CHART_PAGES; pages++) {
        const ledger = await vidgate.api("/v1/account/ledger", { query: { limit: 100, after } });
        this.entriesRead += ledger.data.length;
        let older = false;
        for (const entry of ledger.data) {
          const at = Date.parse(entry.created_at) / 1000;
          if (at < since) { older = true; break; }
          if (entry.kind === "settle") found.push({ at, credits: entry.seconds });
        }
        if (older || !ledger.has_more) return found;
        after = ledger.next_after;
      }
      this.truncated = true;
      return found;
    },

    async chart() {
      const step = this.range === "day" ? HOUR : DAY;
      const count = this.range === "day" ? 24 : 30;
      const now = Date.now() / 1000;
      const last = this.range === "day" ? Math.floor(now / HOUR) * HOUR : localMidnight(now);
      const first = last - (count - 1) * step;
      const charges = await this.settled(first);
      const xs = [];
      const bars = [];
      for (let i = 0; i < count; i++) { xs.push(first + i * step); bars.push(0); }
      for (const charge of charges) {
        const slot = Math.min(count - 1, Math.floor((charge.at - first) / step));
        if (slot >= 0) bars[slot] += charge.credits;
      }
      let running = 0;
      const total = bars.map((value) => (running += value));
      this.spent = running;
      this.charges = charges.length;
      await this.$nextTick();
      this.draw([xs, bars, total], step);
    },

    draw(data, step) {
      if (this.plot) { this.plot.destroy(); this.plot = null; }
      if (this.spent === 0) return;
      const element = this.$refs.chart;
      const styles = getComputedStyle(document.documentElement);
      const accent = styles.getPropertyValue("--accent").trim() || "#4f46e5";
      const ok = styles.getPropertyValue("--ok").trim() || "#1b7f3b";
      const muted = styles.getPropertyValue("--muted").trim() || "#5f6b7a";
      const line = styles.getPropertyValue("--line").trim() || "#e2e6eb";
      const axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
      const hourly = step === HOUR;
      const options = {
        width: this.width(),
        height: 260,
        cursor: { drag: { x: false, y: false } },
        scales: {
          // Half a bucket either side, so the first and last bars are drawn whole.
          x: { time: true, range: () => [data[0][0] - step / 2, data[0][data[0].length - 1] + step / 2] },
          credits: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] },
          total: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] },
        },
        axes: [
          { ...axis, values: (u, ticks) => ticks.map((t) => tickLabel(t, hourly)) },
          { ...axis, scale: "credits", label: hourly ? "credits per hour" : "credits per day", size: 60 },
          { ...axis, scale: "total", side: 1, label: "running total", grid: { show: false }, size: 60 },
        ],
        series: [
          { label: hourly ? "Hour" : "Day", value: (u, t) => (t == null ? "" : tickLabel(t, hourly, true)) },
          {
            label: hourly ? "Charged that hour" : "Charged that day",
            scale: "credits",
            stroke: accent,
            fill: accent + "b3",
            width: 0,
            paths: uPlot.paths.bars({ size: [0.7, 40] }),
            points: { show: false },
            value: (u, v) => (v == null ? "" : usageFormat.format(v)),
          },
          {
            label: "Running total",
            scale: "total",
            stroke: ok,
            width: 2,
            points: { size: 6, filter: changes },
            value: (u, v) => (v == null ? "" : usageFormat.format(v)),
          },
        ],
      };
      this.plot = new uPlot(options, data, element);
    },

    width() {
      const element = this.$refs.chart;
      return Math.max(320, (element && element.clientWidth) || element.parentElement.clientWidth - 36);
    },

    resize() {
      if (this.plot) this.plot.setSize({ width: this.width(), height: 260 });
    },

    credits(value) {
      if (value === null || value === undefined) return "—";
      return usageFormat.format(value);
    },

    limit(value) {
      return value === null || value === undefined ? "No limit" : String(value);
    },

    share(part) {
      const account = this.account;
      if (!account || !account.quota) return 0;
      const value = part === "used" ? account.used : account.reserved;
      return Math.min(100, (100 * value) / account.quota);
    },

    meterTitle() {
      const a = this.account;
      if (!a) return "";
      return `${this.credits(a.used)} used, ${this.credits(a.reserved)} reserved of ${this.credits(a.quota)}`;
    },

    movement(kind) {
      return { reserve: "Reserved", settle: "Charged", refund: "Refunded" }[kind] || kind;
    },

    signed(entry) {
      const sign = entry.kind === "refund" ? "+" : entry.kind === "settle" ? "−" : "";
      const suffix = entry.kind === "reserve" ? " held" : "";
      return `${sign}${usageFormat.format(entry.seconds)}${suffix}`;
    },
  }));
});

// Points of the running total only where it moves.
function changes(u, seriesIndex) {
  const values = u.data[seriesIndex];
  return values.flatMap((value, i) => (value !== (i ? values[i - 1] : 0) ? [i] : []));
}

function localMidnight(seconds) {
  const date = new Date(seconds * 1000);
  date.setHours(0, 0, 0, 0);
  return date.getTime() / 1000;
}

function tickLabel(seconds, hourly, long = false) {
  const date = new Date(seconds * 1000);
  if (hourly) {
    const time = date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    return long ? `${date.toLocaleDateString()} ${time}` : time;
  }
  return date.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}
