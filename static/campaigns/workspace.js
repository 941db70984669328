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
