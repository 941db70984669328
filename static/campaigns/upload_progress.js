// Polls the upload's progress while the import runs. The heading, bar, status and counts
// all come from one answer, already formatted by the server, so they always agree; when
// the import finishes the page reloads once for the receipt.
(function () {
  const box = document.getElementById("upload-progress");
  if (!box || box.dataset.finished === "true") return;
  const bar = box.querySelector("progress");
  function show(progress) {
    bar.value = progress.percent;
    box.className = `module sb-upload sb-upload-${progress.status}`;
    for (const field of ["heading", "status_label", "percent_text"]) {
      const el = box.querySelector(`[data-field="${field}"]`);
      if (el) el.textContent = progress[field];
    }
    const list = box.querySelector(".sb-upload-counts");
    for (const count of progress.counts) {
      let value = list.querySelector(`[data-count="${count.key}"]`);
      if (!value) {
        const item = document.createElement("div");
        item.innerHTML = "<dt></dt><dd></dd>";
        item.querySelector("dt").textContent = count.label;
        value = item.querySelector("dd");
        value.dataset.count = count.key;
        list.append(item);
      }
      value.textContent = count.value;
    }
  }
  async function poll() {
    try {
      const response = await fetch(box.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const progress = await response.json();
        show(progress);
        if (progress.finished) { window.location.reload(); return; }
      }
    } catch (err) { /* the network blipped: try again */ }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();
