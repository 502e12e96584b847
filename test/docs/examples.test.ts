/**
 * The request files under examples/ that the README pastes: exactly what scripts/make-examples.js
 * generates from the vendored series (so they cannot go stale), and valid forecaster requests. A
 * real trained forecaster answers them in test/e2e/predict-cli.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { EXAMPLES_DIR, renderExamples } from '../../scripts/make-examples.js';
import { V2InferRequest } from '../../src/contracts/open-inference.js';
import { readInputs } from '../../src/ml/bundle/infer-tensors.js';
import { forecasterSignature } from '../../src/ml/forecast/forecaster-predictor.js';

const generated = await renderExamples();
const read = (name: string) => fs.readFileSync(path.join(EXAMPLES_DIR, name), 'utf8');

/** Checks a request against the protocol's schema and the forecaster's signature; returns its start_time. */
function checkRequest(request: unknown): number {
  expect(Value.Check(V2InferRequest, request), JSON.stringify([...Value.Errors(V2InferRequest, request)].slice(0, 3))).toBe(true);
  const { values, batch } = readInputs((request as V2InferRequest).inputs as never, forecasterSignature(168, 24));
  expect(batch).toBe(1);
  expect(values.get('history')!.every((mw) => mw > 10_000 && mw < 70_000)).toBe(true);
  return values.get('start_time')![0]!;
}

describe('examples/', () => {
  it.each(Object.keys(generated))('%s is what scripts/make-examples.js generates (run node scripts/make-examples.js)', (name) => {
    expect(read(name)).toBe(generated[name]);
  });

  it('pjme-request.json forecasts the series’ last day from the week before it', () => {
    const request = JSON.parse(read('pjme-request.json')) as unknown;
    // 2018-08-02 01:00 UTC: the vendored series ends at 2018-08-03 00:00.
    expect(checkRequest(request)).toBe(Date.UTC(2018, 7, 2, 1) / 1000);
  });

  it('pjme-requests.ndjson holds one request per line, a day apart, ending with pjme-request.json', () => {
    const lines = read('pjme-requests.ndjson').trimEnd().split('\n');
    expect(lines).toHaveLength(24);
    const starts = lines.map((line) => checkRequest(JSON.parse(line)));
    expect(starts.slice(1).map((start, i) => start - starts[i]!)).toEqual(Array(23).fill(86_400));
    expect(JSON.parse(lines.at(-1)!)).toEqual(JSON.parse(read('pjme-request.json')));
  });

  it('pjme-actuals.json holds what happened in the forecast day, for POST /v2/models/{name}/actuals', () => {
    const actuals = JSON.parse(read('pjme-actuals.json')) as { start_time: number; values: number[] };
    expect(Object.keys(actuals).sort()).toEqual(['start_time', 'values']);
    expect(actuals.start_time).toBe(Date.UTC(2018, 7, 2, 1) / 1000);
    expect(actuals.values).toHaveLength(24);
  });
});
