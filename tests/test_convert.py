import pickle

import pytest
import torch

from vae_training.checkpoint import load_checkpoint
from vae_training.convert import ConversionError, convert, main


# pytorch/examples vae/main.py, as re-implemented with the other tutorials' classes.
from test_tutorial_models import ExamplesVAE as TutorialVAE  # noqa: E402


def test_tutorial_state_dict_converts_with_identical_outputs(tmp_path):
    torch.manual_seed(0)
    tut = TutorialVAE().eval()
    src = tmp_path / "vae.pth"
    torch.save(tut.state_dict(), src)
    out = tmp_path / "vae.safetensors"
    assert main([str(src), "--preset", "mlp-400-20", "--dataset", "mnist",
                 "--out", str(out)]) == 0
    ck = load_checkpoint(out)
    x = torch.rand(5, 1, 28, 28)
    z = torch.randn(5, 20)
    with torch.no_grad():
        mu_t, lv_t = tut.encode(x.view(-1, 784))
        mu, lv = ck.model.encode(x)
        assert torch.equal(mu, mu_t) and torch.equal(lv, lv_t)
        assert torch.allclose(ck.model.mean_image(z).view(5, -1), tut.decode(z), atol=1e-6)
    conv = ck.info["converted"]
    assert conv["source_file"] == "vae.pth" and len(conv["source_sha256"]) == 64
    assert conv["renamed"]["fc21.weight"] == "fc2_mu.weight"
    assert ck.data.label_names[3] == "3"


def test_mismatch_lists_the_problems(tmp_path):
    torch.manual_seed(0)
    sd = TutorialVAE().state_dict()
    sd["fc3.weight"] = torch.zeros(400, 10)
    del sd["fc4.bias"]
    sd["extra.weight"] = torch.zeros(1)
    src = tmp_path / "bad.pth"
    torch.save(sd, src)
    with pytest.raises(ConversionError) as e:
        convert(src, "mlp-400-20", "mnist", tmp_path / "o.safetensors")
    msg = str(e.value)
    assert "missing: fc4.bias" in msg and "unexpected: extra.weight" in msg
    assert "fc3.weight: file (400, 10) vs preset (400, 20)" in msg
    assert not (tmp_path / "o.safetensors").exists()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_pickled_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    src = tmp_path / "evil.pth"
    torch.save({"fc1.weight": _Evil(str(marker))}, src)
    with pytest.raises(ConversionError, match="weights_only"):
        convert(src, "mlp-400-20", "mnist", tmp_path / "o.safetensors")
    src.write_bytes(pickle.dumps(_Evil(str(marker))))
    assert main([str(src), "--preset", "mlp-400-20", "--dataset", "mnist",
                 "--out", str(tmp_path / "o.safetensors")]) == 2
    assert not marker.exists()
