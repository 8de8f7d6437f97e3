import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import {
  findScalarDifferences,
  resolvePlainScalar,
  toolView,
  YamlTimestamp,
} from '../../server/src/core/dialects/yaml11';
import { yaml11Float } from '../../server/src/core/dialects/yaml11Report';

test('PyYAML (YAML 1.1) readings of plain scalars', () => {
  const table: Array<[string, unknown]> = [
    ['1e-4', '1e-4'],
    ['1.0e-4', 0.0001],
    ['1.0e4', '1.0e4'],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['2', 2],
    ['yes', true],
    ['On', true],
    ['OFF', false],
    ['no', false],
    ['y', 'y'],
    ['true', true],
    ['0755', 493],
    ['0x1A', 26],
    ['0b101', 5],
    ['1_000', 1000],
    ['1:30', 90],
    ['-1:30', -90],
    ['0o17', '0o17'],
    ['~', null],
    ['null', null],
    ['', null],
    ['.inf', Infinity],
    ['-.Inf', -Infinity],
    ['abc', 'abc'],
  ];
  for (const [source, expected] of table) assert.deepEqual(resolvePlainScalar(source, 'pyyaml'), expected, source);
  assert.ok(Number.isNaN(resolvePlainScalar('.nan', 'pyyaml')));
  assert.ok(resolvePlainScalar('2024-05-01', 'pyyaml') instanceof YamlTimestamp);
});

test('OmegaConf readings: exponents are floats, booleans and octal as YAML 1.1, no timestamps', () => {
  const table: Array<[string, unknown]> = [
    ['1e-4', 0.0001],
    ['5e5', 500000],
    ['1.0e4', 10000],
    ['yes', true],
    ['0755', 493],
    ['2024-05-01', '2024-05-01'],
    ['10', 10],
  ];
  for (const [source, expected] of table) assert.deepEqual(resolvePlainScalar(source, 'omegaconf'), expected, source);
});

test('only plain scalars that read differently are found, with their paths', () => {
  const doc = parseConfigDocument(
    'lr: 1e-4\nname: "1e-4"\ntag: !!str yes\nlist:\n  - on\n  - 3\nmap:\n  mode: 0755\nok: 2.0e-5\n',
  );
  const findings = findScalarDifferences(doc, 'pyyaml');
  assert.deepEqual(
    findings.map((f) => [f.path, f.source, f.theirs, f.difference]),
    [
      [['lr'], '1e-4', '1e-4', 'exponent'],
      [['list', 0], 'on', true, 'boolean'],
      [['map', 'mode'], '0755', 493, 'octal'],
    ],
  );
  assert.deepEqual(toolView(doc.value, findings), {
    lr: '1e-4',
    name: '1e-4',
    tag: 'yes',
    list: [true, 3],
    map: { mode: 493 },
    ok: 2e-5,
  });
  assert.deepEqual(findScalarDifferences(parseConfigDocument('a: 1.0e-4\nb: true\n'), 'pyyaml'), []);
});

test('the fix text is a float in both YAML versions', () => {
  assert.equal(yaml11Float('1e-4'), '1.0e-4');
  assert.equal(yaml11Float('5e5'), '5.0e+5');
  assert.equal(yaml11Float('2.5e-3'), '2.5e-3');
  assert.equal(yaml11Float('3.e-3'), '3.0e-3');
  for (const text of ['1e-4', '5e5', '3.e-3'])
    assert.equal(typeof resolvePlainScalar(yaml11Float(text), 'pyyaml'), 'number', text);
});
