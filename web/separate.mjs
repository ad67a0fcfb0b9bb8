// sepgan: "Separate your own song" -- the book's trained separator in the reader's browser.
//
// The same steps as sepgan_lib.separate.separate_audio, in JavaScript:
//   Web Audio decoding at 8192 Hz (an OfflineAudioContext resamples), mono downmix (the mean
//   of the channels), the centred STFT 512 / 256 with a periodic Hann window (fft.js), log1p
//   of the 256 model bins, the U-Net (onnxruntime-web, single-threaded wasm: no cross-origin
//   isolation needed) on windows tiled exactly as separate_spectrogram tiles them, expm1,
//   the run's post-filter ("none": each magnitude with the mixture's phase; "soft": masks of
//   power p on the mixture's STFT), and librosa's inverse STFT (window-sum normalised).
// Everything it loads comes from the book's own _static folder: it works offline once built.

import * as ort from './ort.wasm.min.mjs';
import FFT from './fft.mjs';

const SOURCES = ['vocals', 'accompaniment'];

// ------------------------------------------------------------------------------------------
// decoding
// ------------------------------------------------------------------------------------------
export async function decode(arrayBuffer, sampleRate) {
  const context = new OfflineAudioContext(1, 1, sampleRate);
  const buffer = await context.decodeAudioData(arrayBuffer);
  const mono = new Float32Array(buffer.length);
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const channel = buffer.getChannelData(c);
    for (let i = 0; i < mono.length; i++) mono[i] += channel[i] / buffer.numberOfChannels;
  }
  return mono;
}

// ------------------------------------------------------------------------------------------
// STFT and inverse STFT (librosa's conventions: centred, zero padding, periodic Hann)
// ------------------------------------------------------------------------------------------
function hann(n) {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

export function stft(signal, nFft, hop) {
  const half = nFft / 2, bins = half + 1;
  const frames = 1 + Math.floor(signal.length / hop);
  const window = hann(nFft), fft = new FFT(nFft);
  const frame = new Float64Array(nFft), out = fft.createComplexArray();
  const re = new Float32Array(bins * frames), im = new Float32Array(bins * frames);
  for (let t = 0; t < frames; t++) {
    const start = t * hop - half;
    for (let i = 0; i < nFft; i++) {
      const k = start + i;
      frame[i] = k >= 0 && k < signal.length ? signal[k] * window[i] : 0;
    }
    fft.realTransform(out, frame);
    for (let f = 0; f < bins; f++) {  // [bins, frames], frequency-major as the model's input
      re[f * frames + t] = out[2 * f];
      im[f * frames + t] = out[2 * f + 1];
    }
  }
  return { re, im, bins, frames };
}

export function istft(re, im, bins, frames, nFft, hop, length) {
  const half = nFft / 2, window = hann(nFft), fft = new FFT(nFft);
  const total = nFft + hop * (frames - 1);
  const y = new Float64Array(total), norm = new Float64Array(total);
  const spectrum = fft.createComplexArray(), out = fft.createComplexArray();
  for (let t = 0; t < frames; t++) {
    for (let f = 0; f < nFft; f++) {  // Hermitian: bins above Nyquist mirror those below
      const g = f < bins ? f : nFft - f, sign = f < bins ? 1 : -1;
      spectrum[2 * f] = re[g * frames + t];
      spectrum[2 * f + 1] = sign * im[g * frames + t];
    }
    spectrum[1] = 0; spectrum[2 * half + 1] = 0;  // irfft ignores the DC and Nyquist phases
    fft.inverseTransform(out, spectrum);
    for (let i = 0; i < nFft; i++) {
      y[t * hop + i] += out[2 * i] * window[i];
      norm[t * hop + i] += window[i] * window[i];
    }
  }
  const tiny = 1.1754943508222875e-38;  // librosa divides where the window sum is above it
  const audio = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const k = i + half;
    if (k < total) audio[i] = norm[k] > tiny ? y[k] / norm[k] : y[k];
  }
  return audio;
}

// ------------------------------------------------------------------------------------------
// the U-Net's shapes and the tiling of sepgan_lib.separate
// ------------------------------------------------------------------------------------------
export function unetInput(desired, layers) {
  const scale = 2 ** layers;
  let size = Math.max(1, Math.ceil((desired + 2 * scale - 2) / scale)) + 2;
  for (let i = 0; i < layers; i++) size = 2 * size + 2;
  return size;
}

export function windowFrames(frames, layers, wanted) {
  const step = 2 ** layers, ceil = (a, b) => Math.ceil(a / b);
  const size = Math.max(step, ceil(wanted, step) * step);
  const count = Math.max(1, ceil(frames, size));
  return Math.min(size, ceil(ceil(frames, count), step) * step);
}

async function runNetwork(session, info, logMix, frames, progress) {
  const layers = info.num_layers, bins = info.bins, fIn = info.input_bins;
  const step = 2 ** layers;
  const context = (unetInput(step, layers) - step) / 2;
  const size = windowFrames(frames, layers, info.window_output_frames);
  const tIn = unetInput(size, layers), count = Math.ceil(frames / size);
  const top = Math.floor((fIn - bins) / 2);  // pad_freq: zeros split evenly below and above
  const outs = { accompaniment: new Float32Array(bins * frames), vocals: new Float32Array(bins * frames) };
  const input = new Float32Array(fIn * tIn);
  for (let k = 0; k < count; k++) {
    input.fill(0);
    for (let f = 0; f < bins; f++) {
      for (let j = 0; j < tIn; j++) {
        const t = k * size + j - context;  // zero (silence) outside the song
        if (t >= 0 && t < frames) input[(top + f) * tIn + j] = logMix[f * frames + t];
      }
    }
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, [1, fIn, tIn, 1]) };
    const results = await session.run(feeds);
    session.outputNames.forEach((name, i) => {
      const tensor = results[name], [, fOut, tOut] = tensor.dims, data = tensor.data;
      const target = outs[info.outputs[i]];
      const f0 = Math.floor((fOut - bins) / 2), t0 = Math.floor((tOut - size) / 2);
      for (let f = 0; f < bins; f++) {
        for (let j = 0; j < size && k * size + j < frames; j++) {
          target[f * frames + k * size + j] = data[(f0 + f) * tOut + t0 + j];
        }
      }
    });
    progress((k + 1) / count);
  }
  return outs;
}

// ------------------------------------------------------------------------------------------
// estimates -> audio
// ------------------------------------------------------------------------------------------
function magnitudes(logOut, mixMag) {
  const out = new Float32Array(logOut.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = mixMag[i] > 0 ? Math.max(Math.expm1(logOut[i]), 0) : 0;
  }
  return out;
}

function resynthesise(spec, mags, info, length) {
  const { re, im, bins, frames } = spec, model = info.bins;
  // "wiener" (norbert's EM) is not in the browser: its first step, soft masks of power 2
  const soft = info.postfilter !== 'none';
  const power = info.postfilter === 'wiener' ? 2 : info.postfilter_power;
  const names = SOURCES, result = {};
  for (const name of names) {
    const r = new Float32Array(re.length), i2 = new Float32Array(im.length);
    for (let f = 0; f < bins; f++) {
      const g = Math.min(f, model - 1);  // the Nyquist bin: masks repeat the top bin
      for (let t = 0; t < frames; t++) {
        const k = f * frames + t, m = g * frames + t;
        let gain;
        if (soft) {
          const own = mags[name][m], peak = Math.max(mags.vocals[m], mags.accompaniment[m]);
          if (peak > 0) {
            const a = (mags.vocals[m] / peak) ** power, b = (mags.accompaniment[m] / peak) ** power;
            gain = (own / peak) ** power / (a + b);
          } else gain = 1 / names.length;
        } else {
          const mix = Math.hypot(re[k], im[k]);
          gain = f < model && mix > 0 ? mags[name][m] / mix : 0;  // magnitude, mixture phase
        }
        r[k] = gain * re[k]; i2[k] = gain * im[k];
      }
    }
    result[name] = istft(r, i2, bins, frames, info.n_fft, info.hop, length);
  }
  return result;
}

export async function separate(session, info, audio, progress = () => {}) {
  const times = {}, clock = () => performance.now();
  let start = clock();
  const spec = stft(audio, info.n_fft, info.hop);
  const frames = spec.frames, bins = info.bins;
  const mixMag = new Float32Array(bins * frames), logMix = new Float32Array(bins * frames);
  for (let i = 0; i < bins * frames; i++) {
    mixMag[i] = Math.hypot(spec.re[i], spec.im[i]);
    logMix[i] = Math.log1p(mixMag[i]);
  }
  times.stft = clock() - start; start = clock();
  const logs = await runNetwork(session, info, logMix, frames, progress);
  times.network = clock() - start; start = clock();
  const mags = {};
  for (const name of SOURCES) mags[name] = magnitudes(logs[name], mixMag);
  const stems = resynthesise(spec, mags, info, audio.length);
  times.istft = clock() - start;
  return { stems, mags, mixMag, frames, times };
}

// ------------------------------------------------------------------------------------------
// players, downloads and spectrograms
// ------------------------------------------------------------------------------------------
export function wavBlob(samples, sampleRate) {
  const data = new DataView(new ArrayBuffer(44 + 2 * samples.length));
  const text = (o, s) => [...s].forEach((c, i) => data.setUint8(o + i, c.charCodeAt(0)));
  text(0, 'RIFF'); data.setUint32(4, 36 + 2 * samples.length, true); text(8, 'WAVE');
  text(12, 'fmt '); data.setUint32(16, 16, true); data.setUint16(20, 1, true);
  data.setUint16(22, 1, true); data.setUint32(24, sampleRate, true);
  data.setUint32(28, 2 * sampleRate, true); data.setUint16(32, 2, true);
  data.setUint16(34, 16, true); text(36, 'data'); data.setUint32(40, 2 * samples.length, true);
  for (let i = 0; i < samples.length; i++) {
    data.setInt16(44 + 2 * i, Math.round(32767 * Math.max(-1, Math.min(1, samples[i]))), true);
  }
  return new Blob([data], { type: 'audio/wav' });
}

const COLOURS = [[13, 8, 135], [126, 3, 168], [204, 71, 120], [248, 149, 64], [240, 249, 33]];

function colour(x) {  // plasma-like, x in [0, 1]
  const s = Math.max(0, Math.min(1, x)) * (COLOURS.length - 1), i = Math.min(Math.floor(s), COLOURS.length - 2);
  return COLOURS[i].map((c, k) => Math.round(c + (COLOURS[i + 1][k] - c) * (s - i)));
}

export function drawSpectrogram(canvas, mag, bins, frames, reference) {
  const width = Math.min(frames, 2048);
  canvas.width = width; canvas.height = bins;
  const context = canvas.getContext('2d'), image = context.createImageData(width, bins);
  for (let x = 0; x < width; x++) {
    const t = Math.floor((x * frames) / width);
    for (let f = 0; f < bins; f++) {
      const db = 20 * Math.log10(Math.max(mag[f * frames + t], 1e-10) / reference);
      const [r, g, b] = colour((db + 80) / 80), p = 4 * ((bins - 1 - f) * width + x);
      image.data[p] = r; image.data[p + 1] = g; image.data[p + 2] = b; image.data[p + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
}

// ------------------------------------------------------------------------------------------
// the page
// ------------------------------------------------------------------------------------------
function element(root, name) { return root.querySelector(`[data-part="${name}"]`); }

function say(root, text, state) {
  element(root, 'message').textContent = text;
  root.dataset.state = state;
}

async function sessionFor(page, key) {
  if (!page.sessions[key]) {
    const model = page.options.models.find(m => m.key === key);
    const info = await (await fetch(page.base + model.json)).json();
    const session = await ort.InferenceSession.create(page.base + model.onnx, {
      executionProviders: ['wasm'],
    });
    page.sessions[key] = { session, info, label: model.label };
  }
  return page.sessions[key];
}

function show(page, result, info, label) {
  const { root } = page, sr = info.sample_rate, panel = element(root, 'results');
  let reference = 1e-10;  // 0 dB: the mixture's loudest bin
  for (const value of result.mixMag) reference = Math.max(reference, value);
  panel.hidden = false;
  drawSpectrogram(element(root, 'spectrogram-mixture'), result.mixMag, info.bins, result.frames, reference);
  for (const name of SOURCES) {
    const url = URL.createObjectURL(wavBlob(result.stems[name], sr));
    const slot = element(root, `player-${name}`);  // the player is made with its first clip
    let player = slot.querySelector('audio');
    if (!player) {
      player = slot.appendChild(document.createElement('audio'));
      player.controls = true;
      player.style.verticalAlign = 'middle';
    }
    if (player.src) URL.revokeObjectURL(player.src);
    player.src = url;
    const link = element(root, `download-${name}`);
    link.href = url;
    link.download = `${page.clipName}-${name}-${label.replace(/\W+/g, '-')}.wav`;
    drawSpectrogram(element(root, `spectrogram-${name}`), result.mags[name], info.bins, result.frames, reference);
  }
}

async function run(page) {
  const { root } = page;
  if (!page.clip) return;
  const key = element(root, 'model').value;
  const progress = element(root, 'progress');
  progress.value = 0;
  say(root, 'Loading the model ...', 'working');
  const started = performance.now();
  try {
    const { session, info, label } = await sessionFor(page, key);
    say(root, `Separating ${page.clipName} (${(page.clip.length / info.sample_rate).toFixed(1)} s) with the ${label} model ...`, 'working');
    const result = await separate(session, info, page.clip, f => { progress.value = f; });
    show(page, result, info, label);
    const seconds = (performance.now() - started) / 1000;
    const clipSeconds = page.clip.length / info.sample_rate;
    window.sepganSeparation = {
      model: key, sampleRate: info.sample_rate, vocals: result.stems.vocals,
      accompaniment: result.stems.accompaniment, seconds, clipSeconds, times: result.times,
    };
    const unhealthy = info.health && info.health.ok === false ?
      ' Note: this model failed its health check when the book was built: its estimates are no result.' : '';
    const filter = info.postfilter === 'wiener' ?
      ' The run post-filters with Wiener filtering, which the page replaces by soft masks of power 2.' : '';
    say(root, `Done: ${page.clipName}, ${clipSeconds.toFixed(1)} s separated by the ${label} model in ` +
      `${seconds.toFixed(1)} s (${(clipSeconds / seconds).toFixed(1)}x real time).${filter}${unhealthy}`, 'done');
  } catch (err) {
    say(root, `The separation failed: ${err && err.message ? err.message : err}`, 'error');
  }
}

async function load(page, arrayBuffer, name) {
  const { root, options } = page;
  page.clip = null;
  element(root, 'results').hidden = true;
  say(root, `Decoding ${name} ...`, 'working');
  let audio;
  try {
    audio = await decode(arrayBuffer, options.sampleRate);
  } catch (err) {
    say(root, `${name}: your browser cannot decode this file as audio. Choose a sound file ` +
      '(WAV, MP3, OGG, FLAC or M4A, as your browser reads them).', 'error');
    return;
  }
  const seconds = audio.length / options.sampleRate;
  if (seconds > options.maxSeconds) {
    say(root, `${name} is ${seconds.toFixed(0)} s long: this page separates clips of at most ` +
      `${options.maxSeconds} s. Cut it shorter first.`, 'error');
    return;
  }
  if (audio.length < options.nFft) {
    say(root, `${name} is too short to separate (${audio.length} samples at ${options.sampleRate} Hz).`, 'error');
    return;
  }
  page.clip = audio;
  page.clipName = name.replace(/\.[^.]*$/, '') || 'clip';
  await run(page);
}

export function mount(root, options) {
  const base = new URL(options.base, document.baseURI).href;
  const page = { root, options, base, sessions: {}, clip: null, clipName: '' };
  ort.env.wasm.wasmPaths = base;
  ort.env.wasm.numThreads = 1;  // threads need cross-origin isolation, which a static host lacks
  ort.env.wasm.proxy = false;
  element(root, 'file').addEventListener('change', async event => {
    const file = event.target.files[0];
    if (file) await load(page, await file.arrayBuffer(), file.name);
  });
  element(root, 'demo').addEventListener('click', async () => {
    const response = await fetch(base + options.demo);
    await load(page, await response.arrayBuffer(), options.demo);
  });
  element(root, 'model').addEventListener('change', () => run(page));
  say(root, 'Choose a sound file, or the demo clip.', 'ready');
  return page;
}
