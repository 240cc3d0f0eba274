// The thank-you page works without this script: the link is in a box to select, and the text,
// WhatsApp and email links are plain links. With it, where the browser lets a page write to the
// clipboard, a button copies the link in one tap.
(function () {
  var button = document.querySelector("button.copy");
  if (!button || !navigator.clipboard || !window.isSecureContext) return;
  var label = button.textContent;
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      button.textContent = button.getAttribute("data-copied");
      setTimeout(function () { button.textContent = label; }, 2000);
    }, function () {
      var box = document.getElementById("referral-url");
      if (box) { box.focus(); box.select(); }
    });
  });
})();
