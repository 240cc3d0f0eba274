// The survey page works without this script. With it: the score clicked in the email is
// recorded as soon as the page opens (so closing the tab still counts), and the follow-up
// question follows the chosen score. The server holds such clicks briefly and drops them if
// different scores arrive together, which is what mail security scanners do.
(function () {
  var form = document.querySelector("form.survey");
  if (!form) return;
  var prompt = form.querySelector("label.follow-up");
  function segment(score) { return score >= 9 ? "promoter" : score >= 7 ? "passive" : "detractor"; }
  form.addEventListener("change", function (event) {
    if (event.target.name === "score" && prompt) {
      prompt.textContent = prompt.getAttribute("data-" + segment(Number(event.target.value)));
    }
  });
  var chosen = form.getAttribute("data-autorecord");
  if (chosen !== null) {
    var body = new URLSearchParams({ score: chosen, via: "script" });
    fetch(form.action, { method: "POST", body: body, keepalive: true, credentials: "omit" });
  }
})();
