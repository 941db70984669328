// Polls the upload's progress URL while the import runs; reloads for the receipt.
(function () {
  const box = document.getElementById("upload-progress");
  if (!box || !["queued", "running"].includes(box.dataset.status)) return;
  const bar = box.querySelector("progress");
  async function poll() {
    try {
      const response = await fetch(box.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const upload = await response.json();
        bar.value = upload.percent;
        for (const field of ["phase", "percent", "rows_read", "rows_rejected"]) {
          const el = box.querySelector(`[data-field="${field}"]`);
          if (el) el.textContent = upload[field].toLocaleString();
        }
        if (upload.status === "completed" || upload.status === "failed") { window.location.reload(); return; }
      }
    } catch (err) { /* the network blipped: try again */ }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();
