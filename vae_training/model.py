"""VAE encoder/decoder networks (MLP and convolutional). No I/O lives here.

Parameter names follow the tutorials where they have them: an MLP with hidden widths
[h1, ..., hk] has encoder layers fc1..fck, heads fc{k+1}_mu / fc{k+1}_logvar and decoder
layers fc{k+2}..fc{2k+2}, so MLP 784-400-20 is fc1, fc2_mu, fc2_logvar, fc3, fc4.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import system
from .config import ModelConfig


def conv_sizes(side: int, blocks: int, kernel: int = 3) -> list[int]:
    """Spatial side after each stride-2, padding-1 conv: ceil(side / 2) each time with kernel 3,
    floor(side / 2) with kernel 4 (so 28 -> 14 -> 7 -> 3 with kernel 4)."""
    sizes = [side]
    for _ in range(blocks):
        sizes.append((sizes[-1] + 2 - kernel) // 2 + 1)
    return sizes


class VAE(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.latent_dim = cfg.latent_dim
        self.num_classes = cfg.num_classes
        c, h, w = cfg.image_shape
        k = cfg.num_classes
        if cfg.arch == "mlp":
            self._build_mlp(cfg.input_dim, k)
        else:
            self._build_conv(c, h, w, k)
        if cfg.likelihood == "gaussian_learned":
            # One shared learned decoder scale (as in the sigma-VAE), kept in log space.
            self.log_sigma = nn.Parameter(torch.full((1,), math.log(0.1)))

    # -- construction -------------------------------------------------------------------------
    def _build_mlp(self, d: int, k: int) -> None:
        hid = list(self.cfg.hidden)
        n = len(hid)
        dims = [d + k, *hid]
        for i in range(n):
            setattr(self, f"fc{i + 1}", nn.Linear(dims[i], dims[i + 1]))
        last = hid[-1] if hid else d + k
        setattr(self, f"fc{n + 1}_mu", nn.Linear(last, self.latent_dim))
        setattr(self, f"fc{n + 1}_logvar", nn.Linear(last, self.latent_dim))
        rev = [self.latent_dim + k, *reversed(hid), d]
        for i in range(len(rev) - 1):
            setattr(self, f"fc{n + 2 + i}", nn.Linear(rev[i], rev[i + 1]))
        self._n_hidden = n

    def _build_conv(self, c: int, h: int, w: int, k: int) -> None:
        ch = list(self.cfg.hidden)
        bn = self.cfg.batchnorm
        ks = self.cfg.kernel
        self._hs, self._ws = conv_sizes(h, len(ch), ks), conv_sizes(w, len(ch), ks)
        # Module indices in the Sequentials match the tutorials' (conv, [BN,] ReLU per block).
        enc: list[nn.Module] = []
        prev = c + k
        for out in ch:
            enc += [nn.Conv2d(prev, out, ks, stride=2, padding=1)]
            enc += [nn.BatchNorm2d(out)] if bn else []
            enc += [nn.ReLU(inplace=True)]
            prev = out
        self.encoder = nn.Sequential(*enc)
        flat = ch[-1] * self._hs[-1] * self._ws[-1]
        self._flat = flat
        feat = flat
        if self.cfg.dense:
            self.fc_dense = nn.Linear(flat, self.cfg.dense)
            feat = self.cfg.dense
        self.fc_mu = nn.Linear(feat, self.latent_dim)
        self.fc_logvar = nn.Linear(feat, self.latent_dim)
        self.fc_dec = nn.Linear(self.latent_dim + k, flat)
        # "conv": transposed convs keep the channels (last, ch[-1] .. ch[0]), then a 3x3 conv to
        # the image channels. "deconv": each transposed conv steps down one width and the last
        # one produces the image channels (ch[-1] -> ch[-2] ... -> c), no BN/ReLU after it.
        deconv = self.cfg.decoder_out == "deconv"
        outs = [*reversed(ch[:-1]), c] if deconv else list(reversed(ch))
        dec: list[nn.Module] = []
        prev = ch[-1]
        for j, i in enumerate(reversed(range(len(ch)))):
            th, tw = self._hs[i], self._ws[i]
            sh, sw = self._hs[i + 1], self._ws[i + 1]
            # output_padding picks between the two sizes a stride-2 conv could have come from,
            # so the decoder reproduces the encoder's sizes (28 -> 14 -> 7 -> 3 -> 7 -> 14 -> 28).
            base = 2 * (sh - 1) - 2 + ks, 2 * (sw - 1) - 2 + ks
            op = (th - base[0], tw - base[1])
            dec += [nn.ConvTranspose2d(prev, outs[j], ks, stride=2, padding=1, output_padding=op)]
            if deconv and j == len(ch) - 1:
                break
            dec += [nn.BatchNorm2d(outs[j])] if bn else []
            dec += [nn.ReLU(inplace=True)]
            prev = outs[j]
        if not deconv:
            dec += [nn.Conv2d(prev, c, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    # -- the VAE ------------------------------------------------------------------------------
    def _onehot(self, y: torch.Tensor | None, n: int, like: torch.Tensor) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        if y is None:
            raise ValueError("this is a conditional VAE: pass labels y")
        return F.one_hot(y.long().reshape(-1), self.num_classes).to(like.dtype).expand(n, -1)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """x: (N, C, H, W) in data space. Returns (mu, logvar), each (N, latent_dim)."""
        n = x.shape[0]
        oh = self._onehot(y, n, x)
        if self.cfg.arch == "mlp":
            hcur = x.reshape(n, -1)
            if oh is not None:
                hcur = torch.cat([hcur, oh], 1)
            for i in range(self._n_hidden):
                hcur = F.relu(getattr(self, f"fc{i + 1}")(hcur))
            j = self._n_hidden + 1
            return _heads(getattr(self, f"fc{j}_mu"), getattr(self, f"fc{j}_logvar"), hcur)
        if oh is not None:
            x = torch.cat([x, oh[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
        hcur = self.encoder(x).flatten(1)
        if self.cfg.dense:
            hcur = F.relu(self.fc_dense(hcur))
        return _heads(self.fc_mu, self.fc_logvar, hcur)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder output in data space, (N, C, H, W): logits (Bernoulli) or the mean (Gaussian)."""
        n = z.shape[0]
        oh = self._onehot(y, n, z)
        if oh is not None:
            z = torch.cat([z, oh], 1)
        c, h, w = self.cfg.image_shape
        if self.cfg.arch == "mlp":
            hcur = z
            first = self._n_hidden + 2
            last = 2 * self._n_hidden + 2
            for i in range(first, last + 1):
                layer = getattr(self, f"fc{i}")
                hcur = _fp32(layer, hcur) if i == first else layer(hcur)
                if i < last:
                    hcur = F.relu(hcur)
            return hcur.reshape(n, c, h, w)
        hcur = _fp32(self.fc_dec, z)
        if self.cfg.fc_dec_relu:
            hcur = F.relu(hcur)
        hcur = hcur.reshape(n, self.cfg.hidden[-1], self._hs[-1], self._ws[-1])
        return self.decoder(hcur)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar)
        return self.decode(z, y), mu, logvar, z

    def mean_image(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Expected pixel values in data space for latent codes z."""
        out = self.decode(z, y)
        return torch.sigmoid(out) if self.cfg.likelihood == "bernoulli" else out

    def decoder_sigma(self) -> torch.Tensor | None:
        if self.cfg.likelihood == "gaussian_learned":
            return self.log_sigma.exp()
        if self.cfg.likelihood == "gaussian":
            return torch.tensor(self.cfg.gaussian_sigma)
        return None


# The latent path (mu / logvar heads, the noise added to them, the decoder's first layer) stays
# fp32 under bf16 autocast and under oneDNN's bf16 math mode (vae_training.system): bf16 keeps
# ~3 significant digits, which is coarse next to a posterior's standard deviation, and these
# layers are small. Measured on conv z=16 MNIST after 2 epochs, same seed: fp32 112.4, bf16
# everywhere 115.6, bf16 with this path in fp32 113.8; the MLP under the math mode: system.py.
def _fp32(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if system.bf16_matmuls_on():
        return system.fp32_linear(layer, x)
    if not torch.is_autocast_enabled(x.device.type):
        return layer(x)
    with torch.autocast(x.device.type, enabled=False):
        return layer(x.float())


def _heads(mu: nn.Module, logvar: nn.Module, h: torch.Tensor):
    return _fp32(mu, h), _fp32(logvar, h)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
