// Draws every <div class="chart" data-figure="..."> with plotly.js; clicking a point with a URL in
// customdata opens that URL (drill-down to the orders behind the number).
(function () {
  function draw(el) {
    var figure = JSON.parse(el.getAttribute("data-figure"));
    var layout = figure.layout || {};
    layout.height = layout.height || parseInt(el.getAttribute("data-height"), 10) || 360;
    layout.font = layout.font || { family: "Noto Sans CJK SC, Microsoft YaHei, sans-serif" };
    window.Plotly.newPlot(el, figure.data || [], layout, { displayModeBar: false, responsive: true, locale: "zh-CN" })
      .then(function () { el.setAttribute("data-drawn", "1"); });
    el.on("plotly_click", function (event) {
      var point = event.points && event.points[0];
      var url = point && point.customdata;
      if (Array.isArray(url)) { url = url[0]; }
      if (typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/") {
        window.location.assign(url);
      }
    });
  }
  function start() {
    var charts = document.querySelectorAll("div.chart[data-figure]");
    for (var i = 0; i < charts.length; i++) { draw(charts[i]); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
