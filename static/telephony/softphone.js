// "Call in browser" (telephony/softphone.py): fetch an access token, connect through the
// vendored Twilio Voice SDK with the page's ticket; Twilio asks our TwiML App what to do
// and it dials the lead. The page's outcome form works as for any call.
(function () {
  const panel = document.querySelector("[data-softphone]");
  if (!panel) return;
  const start = panel.querySelector("[data-softphone-start]");
  const hangup = panel.querySelector("[data-softphone-hangup]");
  const mute = panel.querySelector("[data-softphone-mute]");
  const state = panel.querySelector("[data-softphone-state]");
  const say = (text) => { state.textContent = text; };
  let device = null;
  let call = null;

  async function token() {
    const response = await fetch(panel.dataset.tokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": panel.dataset.csrf, Accept: "application/json" },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail || response.statusText);
    return body.token;
  }

  function ended(text) {
    say(text);
    hangup.hidden = true;
    mute.hidden = true;
    call = null;
  }

  // The button comes disabled: the deferred SDK runs before this script, and until both
  // have, a click would do nothing.
  if (!window.Twilio || !window.Twilio.Device) {
    say("The softphone did not load: reload the page.");
    return;
  }
  start.disabled = false;
  say("Ready.");

  start.addEventListener("click", async () => {
    start.disabled = true;
    say("Connecting…");
    try {
      device = new window.Twilio.Device(await token(), { codecPreferences: ["opus", "pcmu"], closeProtection: true });
      device.on("error", (error) => say(`Softphone error: ${error.message}`));
      device.on("tokenWillExpire", async () => { try { device.updateToken(await token()); } catch (e) { say(e.message); } });
      call = await device.connect({ params: { ticket: panel.dataset.ticket } });
      hangup.hidden = false;
      mute.hidden = false;
      say("Ringing the lead…");
      call.on("accept", () => say("Connected. Log the outcome below when you are done."));
      call.on("disconnect", () => ended("The call has ended. Log the outcome below."));
      call.on("cancel", () => ended("The call was cancelled."));
      call.on("error", (error) => say(`Call error: ${error.message}`));
    } catch (error) {
      start.disabled = false;
      say(`Could not start the call: ${error.message}`);
    }
  });
  hangup.addEventListener("click", () => { if (call) call.disconnect(); });
  mute.addEventListener("click", () => {
    if (!call) return;
    const muted = !call.isMuted();
    call.mute(muted);
    mute.setAttribute("aria-pressed", String(muted));
    mute.textContent = muted ? "Unmute" : "Mute";
  });
})();
