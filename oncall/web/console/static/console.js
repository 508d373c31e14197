// The console's only script of its own: copy buttons, and a question before a form marked
// data-confirm is sent. No inline scripts anywhere (the
// Content-Security-Policy forbids them); behaviour hangs off data- attributes.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var input = document.getElementById(button.getAttribute("data-copy"));
  var status = button.parentElement.querySelector(".copied");
  function done(text) { if (status) status.textContent = text; }
  input.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(input.value).then(
      function () { done("Copied."); },
      function () { done("Press Ctrl+C (or Cmd+C) to copy."); });
  } else {
    done(document.execCommand && document.execCommand("copy") ? "Copied." : "Press Ctrl+C (or Cmd+C) to copy.");
  }
});

document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});
