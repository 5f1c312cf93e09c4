(function () {
  "use strict";
  var blocks = document.querySelectorAll("li.event details");
  function setAll(open) {
    for (var i = 0; i < blocks.length; i++) { blocks[i].open = open; }
  }
  document.getElementById("expand").addEventListener("click", function () { setAll(true); });
  document.getElementById("collapse").addEventListener("click", function () { setAll(false); });
  window.addEventListener("beforeprint", function () { setAll(true); });
  document.getElementById("tools").hidden = false;
})();
