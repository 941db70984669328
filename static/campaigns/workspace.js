// Progressive enhancement: disqualifying a number updates every contact on the page that
// carries it, without a reload. Without JavaScript the form posts and the page reloads.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("form.disqualify-number")) return;
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const response = await fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" });
    if (!response.ok) throw new Error(response.statusText);
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const error = page.querySelector(".messages .msg-error");
    if (error) throw new Error(error.textContent);
    const id = form.dataset.phone;
    const everywhere = form.elements.scope.value === "everywhere";
    document.querySelectorAll(`[data-phone-status="${id}"]`).forEach((badge) => {
      badge.className = "badge badge-disqualified";
      badge.textContent = everywhere ? "Disqualified everywhere" : "Disqualified";
    });
    document.querySelectorAll(`details[data-phone-action="${id}"]`).forEach((d) => d.remove());
    const notice = page.querySelector(".messages");
    const current = document.querySelector("main .messages");
    if (notice) current ? current.replaceWith(notice) : document.querySelector("main").prepend(notice);
  } catch (err) {
    button.disabled = false;
    alert(`Could not disqualify: ${err.message}`);
  }
});

// "Do not call, everywhere" reaches every campaign: ask before it goes (the server asks
// too when this script did not run). "Call back later" shows its date and time field.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("form.disqualify-number")) return;
  if (form.elements.scope.value !== "everywhere" || form.elements.confirm) return;
  const ok = window.confirm(`Do not call ${form.dataset.number} in any campaign? This reaches every contact carrying it and every upload to come; only an Administrator can undo it.`);
  if (!ok) { event.preventDefault(); event.stopImmediatePropagation(); return; }
  const confirmed = document.createElement("input");
  Object.assign(confirmed, { type: "hidden", name: "confirm", value: "yes" });
  form.append(confirmed);
}, true);

function syncCallback(form) {
  const wants = form.elements.outcome.value === "callback";
  form.classList.add("js-ready");
  form.classList.toggle("wants-callback", wants);
  form.elements.callback_at.required = wants;
}
document.querySelectorAll("form.log-outcome").forEach(syncCallback);
document.addEventListener("change", (event) => {
  const form = event.target.form;
  if (form && form.matches("form.log-outcome") && event.target.name === "outcome") syncCallback(form);
});

// Start calling: the call timer, and the callback time shown (and required) only for an
// outcome of kind "callback". Without JavaScript both fields show and the server checks.
document.querySelectorAll(".timer[data-started]").forEach((timer) => {
  const started = Date.parse(timer.dataset.started);
  const tick = () => {
    const seconds = Math.max(0, Math.floor((Date.now() - started) / 1000));
    timer.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  };
  tick();
  setInterval(tick, 1000);
});
function syncCallOutcome(form) {
  const chosen = form.querySelector("input[name=outcome]:checked");
  const wants = Boolean(chosen && chosen.dataset.kind === "callback");
  form.classList.add("js-ready");
  form.classList.toggle("wants-callback", wants);
  form.elements.callback_at.required = wants;
}
document.querySelectorAll("form.call-outcome").forEach(syncCallOutcome);
document.addEventListener("change", (event) => {
  const form = event.target.form;
  if (form && form.matches("form.call-outcome") && event.target.name === "outcome") syncCallOutcome(form);
});
