// Follow-up form behaviours: the visit check-in (browser Geolocation API) and quick next-follow-up dates.
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localValue(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function initCheckIn(form) {
    var box = form.querySelector("[data-check-in]");
    if (!box) return;
    var button = box.querySelector("[data-check-in-button]");
    var status = box.querySelector("[data-check-in-status]");
    var kinds = (form.getAttribute("data-check-in-kinds") || "").split(",").filter(Boolean);
    function sync() {
      var picked = form.querySelector("input[name=kind]:checked");
      box.hidden = kinds.length > 0 && !(picked && kinds.indexOf(picked.value) >= 0) && !form.elements.latitude.value;
    }
    form.querySelectorAll("input[name=kind]").forEach(function (el) { el.addEventListener("change", sync); });
    sync();
    if (!button) return;
    if (!("geolocation" in navigator)) { button.disabled = true; status.textContent = status.dataset.unsupported || "此浏览器不支持定位"; return; }
    button.addEventListener("click", function () {
      status.textContent = "正在定位…";
      button.disabled = true;
      navigator.geolocation.getCurrentPosition(function (pos) {
        var lat = pos.coords.latitude.toFixed(6), lng = pos.coords.longitude.toFixed(6);
        form.elements.latitude.value = lat;
        form.elements.longitude.value = lng;
        form.elements.accuracy.value = Math.round(pos.coords.accuracy);
        status.innerHTML = "";
        status.appendChild(document.createTextNode("已定位 " + lat + ", " + lng + "（±" + Math.round(pos.coords.accuracy) + " 米） "));
        var link = document.createElement("a");
        link.href = "https://uri.amap.com/marker?position=" + lng + "," + lat;
        link.target = "_blank"; link.rel = "noopener"; link.textContent = "查看地图";
        status.appendChild(link);
        button.disabled = false;
      }, function (err) {
        status.textContent = "定位失败：" + (err.message || err.code);
        button.disabled = false;
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  function initQuickDates(form) {
    form.querySelectorAll("[data-quick-dates]").forEach(function (group) {
      var input = document.getElementById(group.getAttribute("data-quick-dates"));
      group.querySelectorAll("button[data-days]").forEach(function (b) {
        b.addEventListener("click", function () {
          var days = parseInt(b.getAttribute("data-days"), 10);
          if (!days) { input.value = ""; return; }
          var d = new Date(); d.setDate(d.getDate() + days); d.setHours(9, 30, 0, 0);
          input.value = localValue(d);
        });
      });
    });
  }

  function init() {
    document.querySelectorAll("[data-followup-form]").forEach(function (form) {
      if (form.dataset.ready) return;
      form.dataset.ready = "1";
      initCheckIn(form);
      initQuickDates(form);
    });
  }
  if (document.readyState !== "loading") init(); else document.addEventListener("DOMContentLoaded", init);
})();
