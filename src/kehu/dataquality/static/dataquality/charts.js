// Charts of the data-quality page. The figures come from a json_script block and are also in the
// tables beside each chart, so nothing is lost without JavaScript or ECharts.
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("dq-chart-data");
    if (!source || typeof window.echarts === "undefined") return;
    var data = JSON.parse(source.textContent);
    var charts = [];
    var buckets = document.getElementById("chart-buckets");
    if (buckets) {
      var bar = window.echarts.init(buckets);
      bar.setOption({
        grid: { left: 40, right: 12, top: 16, bottom: 28 },
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: data.buckets.labels },
        yAxis: { type: "value", minInterval: 1 },
        series: [{
          name: data.labels.customers, type: "bar", data: data.buckets.counts,
          itemStyle: { color: function (p) { return ["#d4380d", "#fa8c16", "#fadb14", "#52c41a", "#1f8f4e"][p.dataIndex] || "#1664ff"; } }
        }]
      });
      charts.push(bar);
    }
    var trend = document.getElementById("chart-trend");
    if (trend && data.trend.days.length) {
      var line = window.echarts.init(trend);
      line.setOption({
        grid: { left: 40, right: 44, top: 28, bottom: 28 },
        tooltip: { trigger: "axis" },
        legend: { data: [data.labels.average, data.labels.issues], top: 0 },
        xAxis: { type: "category", data: data.trend.days },
        yAxis: [{ type: "value", min: 0, max: 100 }, { type: "value", minInterval: 1 }],
        series: [
          { name: data.labels.average, type: "line", data: data.trend.average, smooth: true, color: "#1664ff" },
          { name: data.labels.issues, type: "line", yAxisIndex: 1, data: data.trend.issues, color: "#fa8c16" }
        ]
      });
      charts.push(line);
    }
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  if (document.readyState !== "loading") draw(); else document.addEventListener("DOMContentLoaded", draw);
})();
