// Times in the viewer's zone (UTC stays in the title), and a followed log that stays at its end.
(function () {
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (!isNaN(at)) { el.textContent = at.toLocaleString(); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSwap", function (event) { localTimes(event.target.parentNode || document); });
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var log = document.getElementById("log");
    if (log && event.target === log) {
      log.dataset.stick = String(log.scrollHeight - log.scrollTop - log.clientHeight < 40);
    }
  });
  document.addEventListener("htmx:sseMessage", function (event) {
    var log = document.getElementById("log");
    if (log && event.target === log && log.dataset.stick !== "false") { log.scrollTop = log.scrollHeight; }
  });
})();
