// Draws the dashboards' charts with the vendored Chart.js (static/vendor/chartjs/) from JSON that the
// page embeds with json_script: <canvas data-chart="ID"> + <script type="application/json" id="ID">.
// A chart's figure stays hidden until it is drawn: without JavaScript the page shows its tables.
(function () {
  "use strict";
  function draw() {
    if (typeof window.Chart === "undefined") { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source || canvas.chart) { return; }
      var config = JSON.parse(source.textContent);
      var figure = canvas.closest("figure");
      if (figure) { figure.hidden = false; }
      canvas.chart = new window.Chart(canvas, config);
      canvas.setAttribute("data-drawn", "true");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
