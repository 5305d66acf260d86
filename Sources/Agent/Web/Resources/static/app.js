"use strict";
// filestore dashboard: plain JavaScript over the public API, no external code (works offline).
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const page = document.body.dataset.page;
const $ = (selector) => document.querySelector(selector);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value; else if (key.startsWith("on")) node.addEventListener(key.slice(2), value); else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function size(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } };
  if (body !== undefined) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
  const response = await fetch(path, options);
  const text = await response.text();
  const data = text ? JSON.parse(text) : {};
  if (!response.ok) throw new Error(data.error ? data.error.message : `HTTP ${response.status}`);
  return data;
}

const encodePath = (path) => path.split("/").map(encodeURIComponent).join("/");
const palette = ["#2f6feb", "#1f9d55", "#d9a400", "#d64545", "#8250df", "#0aa2c0", "#e36209", "#6f42c1"];

// --- Dashboard -------------------------------------------------------------------------------
const since = {};
function renderCluster(cluster) {
  const health = cluster.health;
  $("#at-risk").textContent = health.at_risk;
  $("#under-replicated").textContent = health.under_replicated_chunks;
  $("#hints-pending").textContent = health.hints_pending;
  $("#bytes-to-move").textContent = size(health.bytes_to_move || 0);
  $("#repair-rate").textContent = `${size(health.repair_rate_bytes_per_s || 0)}/s`;
  $("#repair-eta").textContent = health.eta_seconds === null ? "waiting" : `${health.eta_seconds} s`;
  const inbound = cluster.nodes.reduce((sum, node) => sum + node.load.bytes_in_per_s, 0);
  const outbound = cluster.nodes.reduce((sum, node) => sum + node.load.bytes_out_per_s, 0);
  $("#throughput").textContent = `in ${size(inbound)}/s · out ${size(outbound)}/s`;
  const members = cluster.nodes.filter((node) => node.ring_state !== "left");
  const degraded = members.some((node) => node.status !== "alive") || health.at_risk > 0 || health.under_replicated_chunks > 0 || health.hints_pending > 0;
  const summary = $("#health-summary");
  summary.textContent = degraded ? "degraded" : "healthy";
  summary.className = `badge ${degraded ? "status-dead" : "status-alive"}`;

  const now = new Date();
  const cards = cluster.nodes.map((node, index) => {
    if (!since[node.id] || since[node.id].status !== node.status) since[node.id] = { status: node.status, at: now };
    const used = node.storage.used_bytes, capacity = node.storage.capacity_bytes;
    const percent = capacity > 0 ? Math.min(100, (100 * used) / capacity) : 0;
    return el("article", { class: `card node ${node.status}`, id: `node-${node.id}`, "data-status": node.status },
      el("h3", {}, el("span", {}, node.id, node.id === cluster.self ? " (this node)" : ""),
        el("span", { class: `badge status-${node.status}`, "data-role": "status" }, node.status)),
      el("div", { class: "muted" }, `since ${since[node.id].at.toLocaleTimeString()} · zone ${node.zone || "–"} · ${node.ring_state}`),
      el("div", {}, `${size(used)} of ${capacity > 0 ? size(capacity) : "?"}`),
      el("div", { class: "bar" }, el("span", { style: `width:${percent.toFixed(1)}%;background:${palette[index % palette.length]}` })),
      el("div", { class: "muted" }, `${node.storage.chunks} chunks · ring ${(100 * node.ring_share).toFixed(1)}% · ${node.load.in_flight_requests} in flight`),
      el("div", { class: "muted" }, `${node.http} · incarnation ${node.incarnation}`),
      node.s3 ? el("div", { class: "muted", "data-role": "s3" }, `S3 ${node.s3}`) : "");
  });
  $("#nodes").replaceChildren(...cards);
  renderRing(cluster.nodes.filter((node) => node.ring_state !== "left"));
  $("#updated").textContent = `Updated ${now.toLocaleTimeString()} from ${cluster.self}`;
}

function renderRing(nodes) {
  const svg = $("#ring");
  const parts = [];
  let angle = -Math.PI / 2;
  const total = nodes.reduce((sum, node) => sum + node.ring_share, 0) || 1;
  nodes.forEach((node, index) => {
    const sweep = (2 * Math.PI * node.ring_share) / total;
    const end = angle + sweep;
    const large = sweep > Math.PI ? 1 : 0;
    const point = (a, r) => `${110 + r * Math.cos(a)} ${110 + r * Math.sin(a)}`;
    const d = sweep >= 2 * Math.PI - 1e-6
      ? `M ${point(0, 100)} A 100 100 0 1 1 ${point(Math.PI, 100)} A 100 100 0 1 1 ${point(0, 100)} Z`
      : `M ${point(angle, 100)} A 100 100 0 ${large} 1 ${point(end, 100)} L ${point(end, 60)} A 60 60 0 ${large} 0 ${point(angle, 60)} Z`;
    parts.push(`<path d="${d}" fill="${palette[index % palette.length]}" opacity="${node.status === "alive" ? 1 : 0.35}"><title>${node.id}: ${(100 * node.ring_share).toFixed(1)}%</title></path>`);
    angle = end;
  });
  svg.innerHTML = parts.join("") + `<text x="110" y="115" text-anchor="middle" font-size="14">${nodes.length} nodes</text>`;
  $("#ring-legend").replaceChildren(...nodes.map((node, index) =>
    el("li", {}, el("i", { style: `background:${palette[index % palette.length]}` }), `${node.id} ${(100 * node.ring_share).toFixed(1)}%`)));
}

async function pollCluster() {
  try { renderCluster(await api("GET", "/api/v1/cluster")); }
  catch (error) { $("#updated").textContent = `Cannot reach the agent: ${error.message}`; }
  setTimeout(pollCluster, 1000);
}

// --- Files -----------------------------------------------------------------------------------
let nextCursor = null;
async function loadFiles(append) {
  const prefix = $("#prefix").value;
  let path = `/api/v1/files?limit=50&prefix=${encodeURIComponent(prefix)}`;
  if (append && nextCursor) path += `&after=${encodeURIComponent(nextCursor)}`;
  const listing = await api("GET", path);
  const rows = listing.files.map((file) => el("tr", { "data-path": file.path },
    el("td", {}, el("a", { href: `/ui/file?path=${encodeURIComponent(file.path)}` }, file.path)),
    el("td", { class: "num" }, size(file.size)),
    el("td", { class: "hide-small" }, new Date(file.created_at).toLocaleString()),
    el("td", { class: "actions" },
      el("a", { href: `/api/v1/files/${encodePath(file.path)}`, download: file.path.split("/").pop(), class: "download" }, "download"), " ",
      el("button", { class: "danger", onclick: () => removeFile(file.path) }, "delete"))));
  if (append) $("#file-rows").append(...rows); else $("#file-rows").replaceChildren(...rows);
  nextCursor = listing.next;
  $("#more").hidden = !nextCursor;
  const missing = listing.partial ? ` · may be incomplete: no answer from ${listing.unanswered_nodes.join(", ")}` : "";
  $("#file-count").textContent = `${$("#file-rows").children.length} shown${missing}`;
}

async function removeFile(path) {
  if (!confirm(`Delete ${path}?`)) return;
  try { await api("DELETE", `/api/v1/files/${encodePath(path)}`); await loadFiles(false); }
  catch (error) { alert(error.message); }
}

function upload(file) {
  const folder = $("#upload-prefix").value.replace(/^\/+|\/+$/g, "");
  const path = folder ? `${folder}/${file.name}` : file.name;
  const bar = el("progress", { max: "100", value: "0" });
  const note = el("span", { class: "muted" }, ` ${path} · ${size(file.size)}`);
  const item = el("li", { "data-upload": path }, bar, note);
  $("#uploads").prepend(item);
  const form = new FormData();
  form.append("path", path);
  form.append("file", file, file.name);
  const request = new XMLHttpRequest();
  request.open("POST", "/api/v1/files");
  request.setRequestHeader("X-CSRF-Token", csrf);
  request.upload.onprogress = (event) => { if (event.lengthComputable) bar.value = (100 * event.loaded) / event.total; };
  request.onload = () => {
    if (request.status === 201) { bar.value = 100; item.dataset.done = "true"; note.textContent = ` ${path} · stored`; loadFiles(false); }
    else { item.dataset.done = "error"; note.textContent = ` ${path} · failed: ${request.responseText}`; note.className = "error"; }
  };
  request.onerror = () => { item.dataset.done = "error"; note.textContent = ` ${path} · connection failed`; note.className = "error"; };
  request.send(form);
}

function setUpFiles() {
  $("#search").addEventListener("submit", (event) => { event.preventDefault(); loadFiles(false); });
  $("#more").addEventListener("click", () => loadFiles(true));
  $("#file-input").addEventListener("change", (event) => { for (const file of event.target.files) upload(file); event.target.value = ""; });
  const drop = $("#drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => { event.preventDefault(); drop.classList.remove("over"); for (const file of event.dataTransfer.files) upload(file); });
  loadFiles(false);
}

// --- File detail -----------------------------------------------------------------------------
async function loadFile() {
  const path = $("#file-path").dataset.path;
  const [meta, cluster] = await Promise.all([api("GET", `/api/v1/meta/${encodePath(path)}`), api("GET", "/api/v1/cluster")]);
  const status = Object.fromEntries(cluster.nodes.map((node) => [node.id, node.status]));
  $("#file-size").textContent = `${size(meta.size)} (${meta.size} bytes)`;
  $("#file-sha").textContent = meta.sha256;
  $("#file-type").textContent = meta.content_type;
  $("#file-created").textContent = new Date(meta.created_at).toLocaleString();
  $("#file-version").textContent = meta.version;
  $("#download").href = `/api/v1/files/${encodePath(path)}`;
  $("#download").setAttribute("download", path.split("/").pop());
  $("#chunk-rows").replaceChildren(...meta.chunks.map((chunk) => {
    const healthy = chunk.replicas.length >= cluster.replication;
    return el("tr", { class: healthy ? "" : "under", "data-chunk": chunk.index },
      el("td", {}, chunk.index), el("td", { class: "mono" }, `${chunk.sha256.slice(0, 16)}…`),
      el("td", { class: "num" }, chunk.offset), el("td", { class: "num" }, size(chunk.size)),
      el("td", {}, ...chunk.replicas.map((node) => el("span", { class: `badge replica status-${status[node] || "unknown"}` }, node)),
        healthy ? "" : el("span", { class: "error" }, ` only ${chunk.replicas.length} of ${cluster.replication}`)));
  }));
  $("#delete").onclick = async () => {
    if (!confirm(`Delete ${path}?`)) return;
    await api("DELETE", `/api/v1/files/${encodePath(path)}`);
    location.href = "/ui/files";
  };
}

// --- Admin -----------------------------------------------------------------------------------
async function loadAdmin() {
  const [users, cluster] = await Promise.all([api("GET", "/api/v1/users"), api("GET", "/api/v1/cluster")]);
  $("#user-rows").replaceChildren(...users.users.map((user) => {
    const role = el("select", { "aria-label": `Role of ${user.name}` }, ...["user", "admin"].map((name) => {
      const option = el("option", {}, name); if (name === user.role) option.selected = true; return option; }));
    role.addEventListener("change", () => adminAction(() => api("PATCH", `/api/v1/users/${encodeURIComponent(user.name)}`, { role: role.value }), `${user.name} is now ${role.value}`));
    return el("tr", { "data-user": user.name }, el("td", {}, user.name), el("td", {}, role), el("td", { class: "actions" },
      el("button", { onclick: () => { const password = prompt(`New password for ${user.name} (8+ characters)`); if (password) adminAction(() => api("PATCH", `/api/v1/users/${encodeURIComponent(user.name)}`, { password }), `password of ${user.name} changed`); } }, "reset password"), " ",
      el("button", { class: "danger", onclick: () => { if (confirm(`Delete user ${user.name}?`)) adminAction(() => api("DELETE", `/api/v1/users/${encodeURIComponent(user.name)}`), `${user.name} deleted`); } }, "delete")));
  }));
  $("#admin-nodes").replaceChildren(...cluster.nodes.map((node) => el("tr", { "data-node": node.id },
    el("td", {}, node.id), el("td", {}, el("span", { class: `badge status-${node.status}` }, node.status)), el("td", {}, node.ring_state),
    el("td", { class: "num" }, `${(100 * node.ring_share).toFixed(1)}%`), el("td", { class: "num" }, node.storage.chunks),
    el("td", { class: "actions" }, node.ring_state === "left" ? "" : el("span", {},
      el("button", { onclick: () => { if (confirm(`Drain ${node.id}? It will hand over its data and leave the ring.`)) adminAction(() => api("POST", `/api/v1/cluster/nodes/${node.id}/drain`), `${node.id} is draining`); } }, "drain"), " ",
      el("button", { class: "danger", onclick: () => { if (confirm(`Remove ${node.id} for good? Survivors re-replicate its data.`)) adminAction(() => api("DELETE", `/api/v1/cluster/nodes/${node.id}`), `${node.id} removed`); } }, "remove"))))));
}

async function adminAction(action, done) {
  try { await action(); $("#admin-message").textContent = done; $("#admin-message").className = "muted"; }
  catch (error) { $("#admin-message").textContent = error.message; $("#admin-message").className = "error"; }
  await loadAdmin();
}

function setUpAdmin() {
  $("#new-user").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("#new-name").value;
    adminAction(async () => { await api("POST", "/api/v1/users", { name, password: $("#new-password").value, role: $("#new-role").value }); $("#new-user").reset(); }, `user ${name} created`);
  });
  $("#plan").addEventListener("submit", async (event) => {
    event.preventDefault();
    const node = encodeURIComponent($("#plan-node").value);
    const query = $("#plan-kind").value === "add" ? `add=${node}&weight=${$("#plan-weight").value}` : `remove=${node}`;
    try {
      const plan = await api("GET", `/api/v1/ring/plan?${query}`);
      $("#plan-result").replaceChildren(el("p", {}, `${plan.change}: ${(100 * plan.moved_fraction).toFixed(2)}% of the key space, ${plan.chunks} chunk copies (${size(plan.bytes)}) move.`),
        el("ul", {}, ...plan.moves.map((move) => el("li", {}, `${move.from} → ${move.to}: ${move.chunks} chunks, ${size(move.bytes)}`))));
      $("#plan-result").className = "";
    } catch (error) { $("#plan-result").textContent = error.message; $("#plan-result").className = "error"; }
  });
  loadAdmin();
}

// --- Tokens ----------------------------------------------------------------------------------
async function loadTokens() {
  const list = await api("GET", "/api/v1/auth/tokens");
  $("#token-rows").replaceChildren(...list.tokens.map((token) => el("tr", { "data-token": token.id },
    el("td", {}, el("code", {}, token.id.slice(0, 12)), token.current ? el("span", { class: "badge" }, "this session") : ""),
    el("td", {}, token.user), el("td", {}, new Date(token.expires_at).toLocaleString()),
    el("td", { class: "actions" }, el("button", { class: "danger", onclick: () => revokeToken(token) }, "revoke")))));
}

async function revokeToken(token) {
  if (!confirm(token.current ? "Revoke the token of this session? You will be signed out." : `Revoke token ${token.id.slice(0, 12)} of ${token.user}?`)) return;
  try {
    await api("DELETE", `/api/v1/auth/tokens/${token.id}`);
    if (token.current) { location.href = "/ui/login"; return; }
    $("#token-message").textContent = `token ${token.id.slice(0, 12)} revoked`; $("#token-message").className = "muted";
  } catch (error) { $("#token-message").textContent = error.message; $("#token-message").className = "error"; }
  await loadTokens();
}

// --- S3 access keys --------------------------------------------------------------------------
// The user named in the form; a key's delete names the key's own user (the form may have changed since).
const keysPath = (user = $("#key-user").value) => `/api/v1/users/${encodeURIComponent(user)}/keys`;

async function loadKeys() {
  const list = await api("GET", keysPath());
  $("#key-rows").replaceChildren(...list.keys.map((key) => el("tr", { "data-key": key.access_key_id },
    el("td", {}, el("code", {}, key.access_key_id)), el("td", {}, key.user), el("td", {}, new Date(key.created_at).toLocaleString()),
    el("td", { class: "actions" }, el("button", { class: "danger", onclick: () => deleteKey(key) }, "delete")))));
}

async function keyAction(action, done) {
  try { await action(); $("#key-message").textContent = done; $("#key-message").className = "muted"; }
  catch (error) { $("#key-message").textContent = error.message; $("#key-message").className = "error"; }
  await loadKeys().catch((error) => { $("#key-message").textContent = error.message; $("#key-message").className = "error"; });
}

function deleteKey(key) {
  if (!confirm(`Delete access key ${key.access_key_id} of ${key.user}? Tools that use it stop working.`)) return;
  $("#new-key").hidden = true;
  keyAction(() => api("DELETE", `${keysPath(key.user)}/${encodeURIComponent(key.access_key_id)}`), `key ${key.access_key_id} deleted`);
}

function setUpKeys() {
  $("#key-user-form").addEventListener("submit", (event) => { event.preventDefault(); $("#new-key").hidden = true; keyAction(async () => {}, ""); });
  $("#create-key").addEventListener("click", () => keyAction(async () => {
    const grant = await api("POST", keysPath());
    $("#new-key-id").textContent = grant.access_key_id;
    $("#new-key-secret").textContent = grant.secret_access_key;
    $("#new-key").hidden = false;
  }, "key created"));
  loadKeys().catch((error) => { $("#key-message").textContent = error.message; $("#key-message").className = "error"; });
}

if (page === "dashboard") pollCluster();
if (page === "files") setUpFiles();
if (page === "file") loadFile().catch((error) => { $("#file-info").prepend(el("p", { class: "error" }, error.message)); });
if (page === "admin") setUpAdmin();
if (page === "keys") setUpKeys();
if (page === "tokens") loadTokens().catch((error) => { $("#token-message").textContent = error.message; $("#token-message").className = "error"; });
