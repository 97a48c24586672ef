// The console's one script: refresh a working run's progress, confirm a cancel.
// Everything works without it (the run page says to reload).
"use strict";

function poll(section) {
  const url = section.getAttribute("data-poll");
  let last = "";
  async function once() {
    let answer;
    try {
      answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    } catch (err) {
      setTimeout(once, 3000);  // the service is away for a moment: try again
      return;
    }
    if (answer.redirected || answer.status === 401) {
      window.location.assign(answer.url);  // signed out meanwhile
      return;
    }
    if (!answer.ok) {
      setTimeout(once, 3000);
      return;
    }
    const text = await answer.text();
    if (text !== last) {
      last = text;
      section.innerHTML = text;
    }
    const live = section.querySelector("#run-live");
    if (live && live.getAttribute("data-ended") === "true") {
      section.removeAttribute("data-poll");
      document.querySelectorAll("form[data-confirm]").forEach((form) => form.remove());
      return;
    }
    setTimeout(once, 1000);
  }
  setTimeout(once, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-poll]").forEach(poll);
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });
});
