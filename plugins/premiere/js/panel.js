/*
 * vedit panel logic: gather the selected clip (through veditHost), submit a
 * job to the local vedit server, follow it over WebSocket (UXP has no
 * EventSource; polling is the fallback), then import and place the result.
 * Pure helpers are exposed on globalThis.veditPanel for tests.
 */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const host = () => globalThis.veditHost;
  let current = null; // {id, token, ws}
  let activeToken = null; // the token that last worked (a 401 retry replaces it)

  function setStatus(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.className = isError ? "error" : "";
  }

  function setProgress(frac, stage) {
    const pct = Math.max(0, Math.min(1, Number(frac) || 0)) * 100;
    $("progress").style.width = pct.toFixed(1) + "%";
    $("progress").dataset.value = (pct / 100).toFixed(4);
    if (stage !== undefined) setStatus(stage + " " + Math.round(pct) + "%");
  }

  function sep(path) { return path.indexOf("\\") >= 0 && path.indexOf("/") < 0 ? "\\" : "/"; }

  function outputPath(clip, op, range) {
    const s = sep(clip.path);
    const cut = clip.path.lastIndexOf(s);
    const dir = clip.path.slice(0, cut);
    const base = clip.path.slice(cut + 1).replace(/\.[^.]*$/, "");
    const ext = op === "matte" ? ".mov" : ".mp4";
    // beside the source: the server refuses folders that do not exist and makes names unique
    return dir + s + base + "_" + op + "_" + range.start + "-" + range.end + ext;
  }

  function sourceRange(clip) {
    const start = Math.max(0, Math.round(clip.inSeconds * clip.fps));
    const end = Math.max(start + 1, Math.round(clip.outSeconds * clip.fps));
    return { start, end };
  }

  // -- the op's fields, generated from the op definitions ------------------------
  // js/ops_schema.js (plugins/make_ops_schema.py) holds what the server's GET /ops
  // answers: per op its params with type, default, choices, range and help. Every
  // param gets a field with that default; only values changed from it are sent.
  const OP_LABELS = { "remove": "Remove object", "replace-bg": "Replace background", "matte": "Matte" };
  const PANEL_OPS = ["remove", "replace-bg", "matte"]; // animate takes a still, not a clip
  // params kept off the form (path_out params, such as matte's preview, never show):
  // overwrite, matte's preview look, replace-bg's low-resolution draft
  const HIDDEN = ["overwrite", "preview_style", "draft", "draft_size"];
  const MAIN = {
    "remove": ["mask", "engine", "dilate", "feather"],
    "replace-bg": ["background", "prompt", "matte", "engine", "fit", "light_wrap"],
    "matte": ["mask", "frame", "source", "person", "person_model", "alpha", "dilate", "feather"],
  };
  const DEFAULT_CHOICE = ""; // a select's "(default)" entry: the op decides

  function schemaOps() { return (globalThis.veditOpsSchema && globalThis.veditOpsSchema.ops) || {}; }
  function textOf(v) { return Array.isArray(v) ? v.join(";") : String(v); }
  function fieldId(op, name) { return "p-" + op + "-" + name; }
  function kindOf(s) { return s["x-kind"] || "string"; }
  function oneOf(s) { return s["x-repeat"] && s.items ? s.items : s; }

  function shownParams(op) {
    const params = (schemaOps()[op] || {}).params || {};
    return Object.keys(params).filter((n) => !HIDDEN.includes(n) && kindOf(params[n]) !== "path_out");
  }

  function makeField(op, name, s) {
    const one = oneOf(s);
    const kind = kindOf(s);
    const label = document.createElement("label");
    label.className = "field";
    label.dataset.param = name;
    label.dataset.engines = (s["x-engines"] || []).join(" ");
    label.title = s.description || "";
    const text = name.replace(/_/g, " ");
    let el;
    const hasDefault = s.default !== null && s.default !== undefined;
    if (Array.isArray(one.enum) && !s["x-repeat"]) {
      el = document.createElement("select");
      const choices = (hasDefault ? [] : [DEFAULT_CHOICE]).concat(one.enum.map(String));
      for (const c of choices) {
        const o = document.createElement("option");
        o.value = c;
        o.textContent = c === DEFAULT_CHOICE ? "(default)" : c;
        el.appendChild(o);
      }
      el.value = hasDefault ? String(s.default) : DEFAULT_CHOICE;
    } else if (kind === "bool" && !s["x-repeat"]) {
      if (hasDefault) {
        el = document.createElement("input");
        el.type = "checkbox";
        el.checked = !!s.default;
        label.className = "field check";
      } else {
        el = document.createElement("select");
        for (const [v, t] of [[DEFAULT_CHOICE, "(default)"], ["on", "on"], ["off", "off"]]) {
          const o = document.createElement("option");
          o.value = v;
          o.textContent = t;
          el.appendChild(o);
        }
        el.value = DEFAULT_CHOICE;
      }
    } else if ((kind === "int" || kind === "float") && !s["x-repeat"] && hasDefault) {
      el = document.createElement("input");
      el.type = "number";
      if (one.minimum !== undefined) el.min = String(one.minimum);
      if (one.maximum !== undefined) el.max = String(one.maximum);
      el.step = kind === "int" ? "1" : "any";
      el.value = String(s.default);
    } else {
      el = document.createElement("input");
      el.type = "text";
      // empty = the definition's default, shown as the placeholder
      el.value = "";
      const hints = [];
      if (hasDefault && String(s.default) !== "") hints.push("default: " + textOf(s.default));
      else hints.push(s["x-required"] ? "required" : "empty = default");
      if (kind === "nums") hints.push("x,y,...");
      if (s["x-repeat"]) hints.push("several: separate with ;");
      el.placeholder = hints.join(", ");
    }
    el.id = fieldId(op, name);
    el.dataset.op = op;
    el.dataset.param = name;
    if (el.type === "checkbox") { label.appendChild(el); label.appendChild(document.createTextNode(" " + text)); }
    else { label.appendChild(document.createTextNode(text)); label.appendChild(el); }
    return label;
  }

  function buildForm() {
    const ops = schemaOps();
    const select = $("op");
    const fields = $("fields");
    for (const op of PANEL_OPS) {
      if (!ops[op]) continue;
      const o = document.createElement("option");
      o.value = op;
      o.textContent = OP_LABELS[op] || op;
      o.title = ops[op].help || "";
      select.appendChild(o);
      const box = document.createElement("div");
      box.className = "opform";
      box.dataset.op = op;
      const more = document.createElement("details");
      more.className = "more";
      const summary = document.createElement("summary");
      summary.textContent = "More options";
      more.appendChild(summary);
      const names = shownParams(op);
      const main = (MAIN[op] || []).filter((n) => names.includes(n));
      for (const n of main) box.appendChild(makeField(op, n, ops[op].params[n]));
      for (const n of names) if (!main.includes(n)) more.appendChild(makeField(op, n, ops[op].params[n]));
      box.appendChild(more);
      fields.appendChild(box);
      const engine = $(fieldId(op, "engine"));
      if (engine) engine.addEventListener("change", showOptions);
    }
    select.value = ops.matte ? "matte" : select.options[0].value;
  }

  function engineOf(op) {
    const el = $(fieldId(op, "engine"));
    const s = ((schemaOps()[op] || {}).params || {}).engine;
    if (!el) return null;
    return el.value === DEFAULT_CHOICE ? (s && s.default) : el.value;
  }

  function applies(op, s) {
    const engines = s["x-engines"] || [];
    return !engines.length || engines.includes(engineOf(op));
  }

  function number(text, kind) {
    // anything that is not exactly a number goes as typed: the server names the param
    const t = String(text).trim();
    const n = Number(t);
    if (t === "" || !Number.isFinite(n) || (kind === "int" && !Number.isInteger(n))) return text;
    return n;
  }

  // the param value of field `name` of `op`, or undefined when it is the default
  function fieldValue(op, name) {
    const s = schemaOps()[op].params[name];
    const el = $(fieldId(op, name));
    const kind = kindOf(s);
    const hasDefault = s.default !== null && s.default !== undefined;
    if (el.tagName === "SELECT") {
      if (el.value === DEFAULT_CHOICE || (hasDefault && el.value === String(s.default))) return undefined;
      if (kind === "bool") return el.value === "on";
      return kind === "int" || kind === "float" ? number(el.value, kind) : el.value;
    }
    if (el.type === "checkbox") return el.checked === !!s.default ? undefined : el.checked;
    const text = (el.value || "").trim();
    if (!text || (hasDefault && text === textOf(s.default))) return undefined;
    if (s["x-repeat"]) {
      return text.split(";").map((t) => t.trim()).filter((t) => t)
        .map((t) => (kind === "int" || kind === "float" ? number(t, kind) : t));
    }
    if (kind === "int" || kind === "float") return number(text, kind);
    return text;
  }

  function readOptions() {
    const op = $("op").value;
    const schema = schemaOps()[op];
    const params = {};
    for (const name of shownParams(op)) {
      const s = schema.params[name];
      if (!applies(op, s)) continue;
      const v = fieldValue(op, name);
      if (v !== undefined) params[name] = v;
    }
    for (const name of schema.required || []) {
      if (params[name] === undefined) {
        throw new Error(op + " needs " + name.replace(/_/g, " ") + ": " + (schema.params[name].description || ""));
      }
    }
    // a matte with no keyframe mask and no other source is the person matte
    if (op === "matte" && !params.mask && !params.source && !params.person && !params.box && !params.points &&
        !params.chroma) params.person = true;
    return { op, params };
  }

  function checkSpeed(clip) {
    // vedit processes media frame for frame: a clip played faster or slower
    // (Speed/Duration, time remapping) would come back the wrong length
    const fps = clip.fps || 25;
    const media = clip.outSeconds - clip.inSeconds;
    const timeline = clip.endSeconds === undefined ? media : clip.endSeconds - clip.startSeconds;
    const speed = clip.speed === undefined || clip.speed === null ? media / (timeline || media) : Number(clip.speed);
    if (Math.abs(Math.abs(speed) - 1) > 1e-3 || Math.abs(media - timeline) > 0.5 / fps || speed < 0) {
      throw new Error("clip \"" + clip.name + "\" plays at " + Math.round(Math.abs(speed) * 100) + "%" +
        (speed < 0 ? " reversed" : "") + ": vedit processes clips at 100% speed; set its speed to 100% " +
        "(or nest it and render the nest) and run again");
    }
  }

  function buildSpec(clip, op, params) {
    checkSpeed(clip);
    const range = sourceRange(clip);
    return { op, input: clip.path, output: outputPath(clip, op, range), params, range };
  }

  // -- settings: UXP has no environment, so the server address, HTTPS and the
  // token live in the panel (saved in its localStorage) -------------------------
  const SETTINGS_KEY = "vedit.settings";
  const SETTING_IDS = ["server", "tokenFile", "token"];
  const SETTING_CHECKS = ["https"];

  function loadSettings() {
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}") || {}; } catch (e) { saved = {}; }
    for (const id of SETTING_IDS) if (typeof saved[id] === "string" && saved[id]) $(id).value = saved[id];
    for (const id of SETTING_CHECKS) if (typeof saved[id] === "boolean") $(id).checked = saved[id];
    return saved;
  }

  function saveSettings() {
    const s = {};
    for (const id of SETTING_IDS) s[id] = ($(id).value || "").trim();
    for (const id of SETTING_CHECKS) s[id] = !!$(id).checked;
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(s));
    setStatus("Settings saved");
    return s;
  }

  function settings() {
    return { server: serverUrl(), tokenFile: ($("tokenFile").value || "").trim(), token: ($("token").value || "").trim() };
  }

  async function getToken() {
    const s = settings();
    if (s.token) return s.token;
    try {
      return await host().readToken(s.tokenFile);
    } catch (e) {
      throw new Error("cannot read the vedit token" + (s.tokenFile ? " from " + s.tokenFile : "") + " (" +
        (e && e.message ? e.message : e) + "): start `vedit serve` once, or paste the token in Settings");
    }
  }

  // The server address: an https:// address is used as given; "Use HTTPS"
  // turns an http:// one (or a bare host:port) into https://. WebSockets follow
  // the same scheme (wss:// over TLS).
  function serverUrl() {
    let u = ($("server").value || "127.0.0.1:8765").trim().replace(/\/+$/, "");
    if (!/^https?:\/\//i.test(u)) u = "http://" + u;
    if ($("https").checked) u = u.replace(/^http:\/\//i, "https://");
    return u;
  }

  function socketUrl(path) { return serverUrl().replace(/^http/i, "ws") + path; }

  // A 401 with the token from the file may mean the server rotated it (it
  // rewrites the file): read the file once more and retry with the new token.
  async function api(method, path, token, body) {
    let res = await send(method, path, token, body);
    if (res.status === 401 && !settings().token) {
      const fresh = await getToken();
      if (fresh && fresh !== token) {
        if (current && current.token === token) current.token = fresh;
        activeToken = fresh;
        res = await send(method, path, fresh, body);
      }
    }
    let data = {};
    try { data = await res.json(); } catch (e) { /* empty body */ }
    if (!res.ok) throw new Error((data && data.error) || ("HTTP " + res.status));
    return data;
  }

  async function send(method, path, token, body) {
    try {
      return await fetch(serverUrl() + path, {
        method,
        headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      const tls = serverUrl().startsWith("https:");
      throw new Error("no vedit server at " + serverUrl() + " (" + (e && e.message ? e.message : e) + "): " +
        (tls ? "start `vedit serve` with --tls-cert/--tls-key and trust its certificate (plugins/README.md)"
             : "start `vedit serve`" + " (on macOS Premiere needs HTTPS: tick Use HTTPS in Settings)"));
    }
  }

  function follow(id, token) {
    // resolves with the final job dict; WebSocket first, polling if it fails
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (job) => { if (!settled) { settled = true; resolve(job); } };
      const poll = async () => {
        while (!settled) {
          try {
            const job = await api("GET", "/jobs/" + id, (current && current.token) || token);
            setProgress(job.progress, job.stage || job.status);
            if (["done", "failed", "cancelled"].includes(job.status)) return finish(job);
          } catch (e) { settled = true; return reject(e); }
          await new Promise((r) => setTimeout(r, 500));
        }
      };
      let ws;
      try {
        ws = new WebSocket(socketUrl("/jobs/" + id + "/events?token=" + encodeURIComponent(token)));
      } catch (e) { return poll(); }
      current.ws = ws;
      let gotMessage = false;
      ws.onmessage = (ev) => {
        gotMessage = true;
        const job = JSON.parse(ev.data);
        if (job.ok === false) return;
        setProgress(job.progress, job.stage || job.status);
        if (job.event === "final" || ["done", "failed", "cancelled"].includes(job.status)) finish(job);
      };
      ws.onerror = () => { if (!gotMessage && !settled) poll(); };
      ws.onclose = () => { if (!settled) poll(); };
    });
  }

  async function submit() {
    $("submit").disabled = true;
    try {
      setProgress(0, "reading the selected clip");
      const clip = await host().getSelectedClip();
      const { op, params } = readOptions();
      activeToken = await getToken();
      const spec = buildSpec(clip, op, params);
      const { id } = await api("POST", "/jobs", activeToken, spec);
      const token = activeToken; // the re-read one when the POST met a rotated token
      current = { id, token, ws: null };
      $("cancel").disabled = false;
      setProgress(0, "queued");
      const job = await follow(id, token);
      if (job.status !== "done") throw new Error("job " + job.status + ": " + (job.error || ""));
      setProgress(1, "importing");
      const placed = await host().importAndPlace(job.output || spec.output, clip);
      setProgress(1, "done");
      setStatus("Placed on video track " + (placed.trackIndex + 1) + ": " + (job.output || spec.output));
      return job;
    } catch (e) {
      setStatus("ERROR: " + (e && e.message ? e.message : e), true);
      return null;
    } finally {
      $("submit").disabled = false;
      $("cancel").disabled = true;
    }
  }

  async function cancel() {
    if (!current) return;
    try { await api("POST", "/jobs/" + current.id + "/cancel", current.token, {}); } catch (e) { setStatus("ERROR: " + e.message, true); }
  }

  function showOptions() {
    const op = $("op").value;
    document.querySelectorAll(".opform").forEach((box) => {
      box.classList.toggle("hidden", box.dataset.op !== op);
    });
    document.querySelectorAll('.opform[data-op="' + op + '"] .field').forEach((label) => {
      const engines = label.dataset.engines ? label.dataset.engines.split(" ") : [];
      label.classList.toggle("hidden", engines.length > 0 && !engines.includes(engineOf(op)));
    });
  }

  $("op").addEventListener("change", showOptions);
  $("submit").addEventListener("click", () => { submit(); });
  $("cancel").addEventListener("click", () => { cancel(); });
  $("saveSettings").addEventListener("click", () => { saveSettings(); });
  buildForm();
  loadSettings();
  showOptions();

  globalThis.veditPanel = { sourceRange, outputPath, buildSpec, checkSpeed, readOptions, submit, saveSettings,
    serverUrl, socketUrl, fieldId };
})();
