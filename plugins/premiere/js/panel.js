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

  function readOptions() {
    const op = $("op").value;
    const v = (id) => ($(id).value || "").trim();
    const params = {};
    if (v("engine")) params.engine = v("engine");
    if (op === "remove") {
      if (!v("mask")) throw new Error("remove needs a mask file");
      params.mask = v("mask");
    } else if (op === "replace-bg") {
      if (v("prompt")) params.prompt = v("prompt");
      else params.background = v("background") || "blur";
      params.matte = v("mask") || "person";
    } else {
      if (v("mask")) { params.mask = v("mask"); params.frame = parseInt(v("frame") || "0", 10); }
      else params.person = true;
    }
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
    document.querySelectorAll(".opt").forEach((el) => {
      el.style.display = el.dataset.ops.split(" ").includes(op) ? "block" : "none";
    });
  }

  $("op").addEventListener("change", showOptions);
  $("submit").addEventListener("click", () => { submit(); });
  $("cancel").addEventListener("click", () => { cancel(); });
  $("saveSettings").addEventListener("click", () => { saveSettings(); });
  loadSettings();
  showOptions();

  globalThis.veditPanel = { sourceRange, outputPath, buildSpec, checkSpeed, readOptions, submit, saveSettings,
    serverUrl, socketUrl };
})();
