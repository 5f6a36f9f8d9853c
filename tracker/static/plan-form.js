// The spot-check plan form: shows only the size inputs of the chosen rule, and lets a long checkbox list be
// narrowed by typing (a search box above it). Without script every input stays visible and works as before.
(function () {
  function sizeInputs() {
    var select = document.getElementById("size-kind");
    if (!select) { return; }
    var options = document.querySelectorAll(".size-option[data-size-kind]");
    function show() {
      for (var i = 0; i < options.length; i++) {
        options[i].hidden = options[i].getAttribute("data-size-kind") !== select.value;
      }
    }
    select.addEventListener("change", show);
    show();
  }
  function searchable(list) {
    var box = list.querySelector(".checklist-search");
    if (!box) { return; }
    box.hidden = false;
    var labels = list.querySelectorAll(".check-option");
    box.addEventListener("input", function () {
      var wanted = box.value.trim();
      for (var i = 0; i < labels.length; i++) {
        var input = labels[i].querySelector("input");
        // a ticked option always stays in view: hiding it would hide what the form will send
        labels[i].hidden = wanted !== "" && labels[i].textContent.indexOf(wanted) < 0 && !(input && input.checked);
      }
    });
  }
  function start() {
    sizeInputs();
    var lists = document.querySelectorAll("[data-checklist]");
    for (var i = 0; i < lists.length; i++) { searchable(lists[i]); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
