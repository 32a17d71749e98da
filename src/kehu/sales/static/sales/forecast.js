// Charts of the forecast page: weighted amount per month (bars) and the funnel. The figures come
// from a json_script block and are also in the tables, so nothing is lost without ECharts.
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("sales-chart-data");
    if (!source || typeof window.echarts === "undefined") return;
    var data = JSON.parse(source.textContent);
    var charts = [];
    var money = function (v) { return "¥" + Math.round(v).toLocaleString("en-US"); };
    var bars = document.getElementById("chart-forecast");
    if (bars) {
      var bar = window.echarts.init(bars);
      bar.setOption({
        grid: { left: 70, right: 12, top: 28, bottom: 28 },
        tooltip: { trigger: "axis", valueFormatter: money },
        legend: { data: [data.labels.weighted, data.labels.amount], top: 0 },
        xAxis: { type: "category", data: data.months },
        yAxis: { type: "value", axisLabel: { formatter: money } },
        series: [
          { name: data.labels.weighted, type: "bar", data: data.weighted, color: "#1664ff" },
          { name: data.labels.amount, type: "bar", data: data.amount, color: "#c6d8ff" }
        ]
      });
      charts.push(bar);
    }
    var funnelBox = document.getElementById("chart-funnel");
    if (funnelBox && data.funnel.length) {
      var funnel = window.echarts.init(funnelBox);
      funnel.setOption({
        tooltip: {
          trigger: "item",
          formatter: function (p) {
            var step = data.funnel[p.dataIndex];
            return p.name + ": " + p.value + (step.conversion == null ? "" : " (" + step.conversion + "%)");
          }
        },
        series: [{
          type: "funnel", sort: "none", left: 10, right: 10, top: 10, bottom: 10, minSize: "10%",
          label: { show: true, position: "inside", formatter: function (p) {
            var step = data.funnel[p.dataIndex];
            return p.name + " " + p.value + (step.conversion == null ? "" : " · " + step.conversion + "%");
          } },
          data: data.funnel.map(function (s) { return { name: s.name, value: s.value }; })
        }]
      });
      charts.push(funnel);
    }
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  if (document.readyState !== "loading") draw(); else document.addEventListener("DOMContentLoaded", draw);
})();
