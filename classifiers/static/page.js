// stemsim serve: send the chosen files to /api/predict, show every result; errors as messages.
"use strict";
const $ = (selector) => document.querySelector(selector);
let limits = null;
let runs = [];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child);  // strings become text, never HTML
  return node;
}

function mib(bytes) { return (bytes / 1048576).toFixed(1) + " MiB"; }

function message(text, kind) {
  const box = el("div", {class: "message " + (kind || "error")}, text);
  $("#messages").append(box);
  return box;
}

async function answer(response) {
  let data = null;
  try { data = await response.json(); } catch (e) { /* not JSON */ }
  if (!response.ok || data === null || data.error) {
    throw new Error(data && data.error ? data.error : "the server answered " + response.status + " " + response.statusText);
  }
  return data;
}

async function start() {
  try {
    const data = await answer(await fetch("/api/runs"));
    limits = data;
    runs = data.runs;
    for (const run of runs) {
      $("#run").append(el("option", {value: run.id}, run.name + " (" + run.model + ": " + run.classes.join(", ") + ")"));
    }
    $("#limits").textContent = "files up to " + mib(data.max_file_bytes) + ", " + data.max_files + " at a time";
  } catch (error) {
    message("cannot read the runs: " + error.message);
  }
}

function figure(src, caption) {
  return el("figure", {}, el("img", {src: src, alt: caption}), el("figcaption", {}, caption));
}

function show(result) {
  const card = el("div", {class: "result", "data-file": result.file}, el("h2", {}, result.file));
  if (result.error) {
    card.append(el("p", {class: "error"}, result.error));
    $("#results").prepend(card);
    return;
  }
  card.append(el("p", {class: "label"}, "label: ", el("span", {class: "label-value"}, result.label)));
  card.append(el("p", {class: "scale"}, "pixel size: ",
    el("span", {class: "scale-value"}, result.pixel_size_nm == null ? "unknown" : result.pixel_size_nm.toPrecision(4) + " nm")));
  const table = el("table", {class: "probs"});
  for (const [name, p] of Object.entries(result.probabilities)) {
    const chosen = result.label.split(";").includes(name);
    const bar = el("div", {class: "bar"});
    bar.style.width = (100 * p).toFixed(1) + "%";
    const cells = [el("td", {class: "class"}, name), el("td", {class: "p"}, p.toFixed(6)), el("td", {class: "barcell"}, bar)];
    if (result.votes) cells.push(el("td", {class: "votes"}, result.votes[name] + " votes"));
    table.append(el("tr", {"data-class": name, class: chosen ? "chosen" : ""}, ...cells));
  }
  const row = el("div", {class: "row"});
  if (result.preview) row.append(figure(result.preview, "image"));
  row.append(table);
  card.append(row);
  if (result.maps) {
    const m = result.maps;
    card.append(el("div", {class: "row maps"},
      figure(m.mask, "mask"),
      figure(m.thickness, "thickness 0–" + m.thickness_max_nm + " nm"),
      figure(m.vertices, "vertices: " + m.n_vertices + " (deformed " + m.n_deformed + ")")));
  }
  $("#results").prepend(card);
}

async function upload(fileList) {
  const files = Array.from(fileList);
  $("#messages").replaceChildren();
  if (!files.length) return;
  if (!limits) { message("the page has not read the server's runs yet"); return; }
  const small = [];
  for (const file of files) {
    if (file.size > limits.max_file_bytes) {
      message(file.name + ": " + mib(file.size) + ", over the limit of " + mib(limits.max_file_bytes) + " per file");
    } else {
      small.push(file);
    }
  }
  const parts = [];  // uploads within the server's limits on files and bytes at once
  for (const file of small) {
    const last = parts[parts.length - 1];
    if (last && last.files.length < limits.max_files && last.bytes + file.size < limits.max_request_bytes - 65536) {
      last.files.push(file);
      last.bytes += file.size;
    } else {
      parts.push({files: [file], bytes: file.size});
    }
  }
  for (const {files: part} of parts) {
    const form = new FormData();
    for (const file of part) form.append("files", file, file.name);
    const pixelSize = $("#pixel-size").value.trim();
    if (pixelSize) form.append("pixel_size", pixelSize);
    const frame = $("#frame").value.trim();
    if (frame) form.append("frame", frame);
    const busy = message("predicting " + part.length + " file(s)…", "busy");
    try {
      const run = encodeURIComponent($("#run").value);
      const data = await answer(await fetch("/api/predict?run=" + run, {method: "POST", body: form}));
      for (const warning of data.warnings) message(warning, "warning");
      data.results.slice().reverse().forEach(show);  // each is put first: the first file ends on top
    } catch (error) {
      message(error.message);
    } finally {
      busy.remove();
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  start();
  const input = $("#files");
  input.addEventListener("change", () => { upload(input.files).finally(() => { input.value = ""; }); });
  const drop = $("#drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    upload(event.dataTransfer.files);
  });
});
