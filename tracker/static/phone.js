// Phone layout and page helpers (a static file: the CSP forbids inline scripts).
// - the 菜单 button opens and closes the navigation on narrow screens, a 筛选 button its filter form;
// - a "全选本页" box ticks every box of its group (data-check-all="name");
// - a 打印 button prints the page (its print stylesheet hides navigation and forms).
document.addEventListener("DOMContentLoaded", function () {
  var toggle = document.getElementById("nav-toggle");
  var nav = document.getElementById("nav");
  if (toggle && nav) {
    toggle.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
  document.querySelectorAll("button[data-toggle]").forEach(function (button) {
    var target = document.getElementById(button.dataset.toggle);
    if (!target) { return; }
    button.addEventListener("click", function () {
      var open = target.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });
  document.querySelectorAll("input[data-check-all]").forEach(function (all) {
    var boxes = function () {
      return document.querySelectorAll("input[type=checkbox][name='" + all.dataset.checkAll + "']");
    };
    all.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
    });
    boxes().forEach(function (box) {
      box.addEventListener("change", function () {
        var list = Array.prototype.slice.call(boxes());
        all.checked = list.length > 0 && list.every(function (b) { return b.checked; });
      });
    });
  });
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
