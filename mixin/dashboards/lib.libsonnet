// Building blocks of the dashboards: panels, targets, variables, layout. Plain JSON of
// Grafana's dashboard schema (version 39), no external library.
{
  ds:: { type: 'prometheus', uid: '${datasource}' },

  thresholds(steps):: {
    mode: 'absolute',
    steps: [{ color: s[0], value: s[1] } for s in steps],
  },

  green:: self.thresholds([['green', null]]),
  backpressureSteps:: self.thresholds([['green', null], ['yellow', 0.3], ['red', 0.5]]),

  upMapping:: [{
    type: 'value',
    options: {
      '0': { text: 'DOWN', color: 'red', index: 0 },
      '1': { text: 'UP', color: 'green', index: 1 },
    },
  }],
  successMapping:: [{
    type: 'value',
    options: {
      '0': { text: 'failing', color: 'red', index: 0 },
      '1': { text: 'ok', color: 'green', index: 1 },
    },
  }],

  target(expr, legend='', ref='A', instant=false, table=false):: {
    datasource: $.ds,
    editorMode: 'code',
    expr: expr,
    legendFormat: if legend == '' then '__auto' else legend,
    range: !instant,
    instant: instant,
    refId: ref,
  } + (if table then { format: 'table' } else {}),

  fieldConfig(unit,
              min=null,
              max=null,
              mappings=[],
              steps=null,
              colorMode='palette-classic',
              custom=null,
              overrides=[],
              links=[]):: {
    defaults: {
                unit: unit,
                color: { mode: colorMode },
                mappings: mappings,
                thresholds: if steps == null then $.green else steps,
              }
              + (if min != null then { min: min } else {})
              + (if max != null then { max: max } else {})
              + (if custom != null then { custom: custom } else {})
              + (if links != [] then { links: links } else {}),
    overrides: overrides,
  },

  timeseries(title,
             description,
             unit,
             targets,
             min=null,
             max=null,
             stack=false,
             steps=null,
             legendCalcs=['lastNotNull', 'max']):: {
    type: 'timeseries',
    title: title,
    description: description,
    datasource: $.ds,
    fieldConfig: $.fieldConfig(unit, min=min, max=max, steps=steps, custom={
      drawStyle: 'line',
      lineWidth: 1,
      fillOpacity: 10,
      showPoints: 'never',
      spanNulls: false,
      axisSoftMin: 0,
      stacking: { mode: if stack then 'normal' else 'none', group: 'A' },
      thresholdsStyle: { mode: if steps != null then 'line' else 'off' },
    }),
    options: {
      legend: { showLegend: true, displayMode: 'table', placement: 'bottom', calcs: legendCalcs },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    targets: targets,
  },

  stat(title,
       description,
       unit,
       targets,
       mappings=[],
       steps=null,
       textMode='auto',
       colorMode='background',
       overrides=[],
       graph=false):: {
    type: 'stat',
    title: title,
    description: description,
    datasource: $.ds,
    fieldConfig: $.fieldConfig(unit,
                               mappings=mappings,
                               steps=steps,
                               colorMode='thresholds',
                               overrides=overrides),
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: colorMode,
      graphMode: if graph then 'area' else 'none',
      justifyMode: 'auto',
      orientation: 'auto',
      textMode: textMode,
      wideLayout: true,
      showPercentChange: false,
    },
    targets: targets,
  },

  stateTimeline(title,
                description,
                unit,
                targets,
                mappings=[],
                steps=null,
                min=null,
                max=null,
                showLegend=false):: {
    type: 'state-timeline',
    title: title,
    description: description,
    datasource: $.ds,
    fieldConfig: $.fieldConfig(unit,
                               min=min,
                               max=max,
                               mappings=mappings,
                               steps=steps,
                               colorMode='thresholds',
                               custom={ fillOpacity: 80, lineWidth: 0 }),
    options: {
      mergeValues: true,
      showValue: 'never',
      alignValue: 'left',
      rowHeight: 0.9,
      legend: { showLegend: showLegend, displayMode: 'list', placement: 'bottom' },
      tooltip: { mode: 'single', sort: 'none' },
    },
    targets: targets,
  },

  table(title, description, unit, targets, transformations, overrides=[], links=[]):: {
    type: 'table',
    title: title,
    description: description,
    datasource: $.ds,
    fieldConfig: $.fieldConfig(unit,
                               colorMode='thresholds',
                               overrides=overrides,
                               links=links,
                               custom={ align: 'auto', cellOptions: { type: 'auto' }, inspect: false }),
    options: {
      showHeader: true,
      cellHeight: 'sm',
      footer: { show: false, reducer: ['sum'], fields: '' },
    },
    targets: targets,
    transformations: transformations,
  },

  // override('Input msg/s', { unit: 'short', decimals: 1 })
  override(name, props):: {
    matcher: { id: 'byName', options: name },
    properties: [{ id: k, value: props[k] } for k in std.objectFields(props)],
  },

  colorOverride(name, color):: {
    matcher: { id: 'byName', options: name },
    properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: color } }],
  },

  // ---------------------------------------------------------------- variables

  datasourceVariable:: {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    refresh: 1,
    regex: '',
    hide: 0,
    includeAll: false,
    multi: false,
    options: [],
    current: {},
  },

  queryVariable(name, label, query, description, hide=0):: {
    name: name,
    label: label,
    description: description,
    type: 'query',
    datasource: $.ds,
    definition: query,
    query: { query: query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2,
    regex: '',
    sort: 1,
    hide: hide,
    includeAll: true,
    allValue: '.*',
    multi: true,
    options: [],
    current: {},
  },

  // ---------------------------------------------------------------- layout

  // Panels placed left to right on the 24-column grid, numbered in order.
  row(title):: { kind: 'row', title: title },
  panel(p, w, h):: { kind: 'panel', panel: p, w: w, h: h },
  // A row shown collapsed: its panels sit inside it and Grafana runs their queries only
  // once someone opens it (for data that only some setups have).
  collapsedRow(title, items):: { kind: 'collapsedRow', title: title, items: items },

  layout(items)::
    local place(state, item) =
      if item.kind == 'row' then
        local y = if state.x > 0 then state.y + state.rowH else state.y;
        state {
          x: 0,
          y: y + 1,
          rowH: 0,
          id: state.id + 1,
          panels: state.panels + [{
            type: 'row',
            title: item.title,
            collapsed: false,
            id: state.id,
            gridPos: { h: 1, w: 24, x: 0, y: y },
            panels: [],
          }],
        }
      else if item.kind == 'collapsedRow' then
        local y = if state.x > 0 then state.y + state.rowH else state.y;
        local inner = std.foldl(place, item.items, { x: 0, y: y + 1, rowH: 0, id: state.id + 1, panels: [] });
        state {
          x: 0,
          y: y + 1,
          rowH: 0,
          id: inner.id,
          panels: state.panels + [{
            type: 'row',
            title: item.title,
            collapsed: true,
            id: state.id,
            gridPos: { h: 1, w: 24, x: 0, y: y },
            panels: inner.panels,
          }],
        }
      else
        local wrap = state.x + item.w > 24;
        local x = if wrap then 0 else state.x;
        local y = if wrap then state.y + state.rowH else state.y;
        local rowH = if wrap then 0 else state.rowH;
        state {
          x: x + item.w,
          y: y,
          rowH: std.max(rowH, item.h),
          id: state.id + 1,
          panels: state.panels + [item.panel {
            id: state.id,
            gridPos: { h: item.h, w: item.w, x: x, y: y },
          }],
        };
    std.foldl(place, items, { x: 0, y: 0, rowH: 0, id: 1, panels: [] }).panels,
}
