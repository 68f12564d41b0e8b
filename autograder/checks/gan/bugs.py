"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/gan/gan.py, what it becomes, the function or class whose checks must fail, words
its failure message must contain, or "" where no check names that mistake); the text must occur exactly once.
The project's harness (tests/checks/test_harness.py) plants each one and asserts that it loses points on the checks
of its target only. Not shipped to students (it is made from the reference).
"""

_D_REAL = "real_term = F.softplus(-real_logits).mean()       # (), -E[log D(x)]"
_D_FAKE = "fake_term = F.softplus(fake_logits).mean()        # (), -E[log(1 - D(G(z)))]"
_D_SUM = "return real_term + fake_term"
_G_NS = "return F.softplus(-fake_logits).mean()        # (), -E[log D(G(z))]"
_G_MM = "return -F.softplus(fake_logits).mean()            # (), E[log(1 - D(G(z)))]"
_G_NET = """            nn.Linear(latent_dim, hidden_dim), nn.LeakyReLU(0.2),
            nn.Linear(hidden_dim, hidden_dim), nn.LeakyReLU(0.2),
            nn.Linear(hidden_dim, data_dim),"""
_D_NET = """            nn.Linear(data_dim, hidden_dim), nn.LeakyReLU(0.2),
            nn.Linear(hidden_dim, hidden_dim), nn.LeakyReLU(0.2),
            nn.Linear(hidden_dim, 1),"""
_D_OUT = "return self.net(x).squeeze(-1)               # (B, 1) -> (B,)"
_FAKE = "fake = G(z_d).detach()                                  # (B_d, data_dim), no gradient reaches G"
_G_STEP = "g_loss = generator_loss(D(G(z_g)), non_saturating)      # (), gradients flow through D into G"
_RETURN = "return d_loss.item(), g_loss.item()"
_D_BLOCK = """    opt_D.zero_grad()
    fake = G(z_d).detach()                                  # (B_d, data_dim), no gradient reaches G
    d_loss = discriminator_loss(D(real), D(fake))           # ()
    d_loss.backward()
    opt_D.step()

    opt_G.zero_grad()
    g_loss = generator_loss(D(G(z_g)), non_saturating)      # (), gradients flow through D into G
    g_loss.backward()
    opt_G.step()                                            # only G's parameters move
"""
_G_BLOCK = """    opt_G.zero_grad()
    g_loss = generator_loss(D(G(z_g)), non_saturating)
    g_loss.backward()
    opt_G.step()
"""
_D_BLOCK_LAST = """    opt_D.zero_grad()
    fake = G(z_d).detach()
    d_loss = discriminator_loss(D(real), D(fake))
    d_loss.backward()
    opt_D.step()
"""

BUGS = [
    # discriminator_loss
    ("D loss: sigmoid then log", _D_REAL + "\n    " + _D_FAKE,
     "real_term = -torch.log(torch.sigmoid(real_logits)).mean()\n"
     "    fake_term = -torch.log(1 - torch.sigmoid(fake_logits)).mean()", "discriminator_loss",
     "a sigmoid followed by a log"),
    ("D loss: labels swapped", _D_REAL + "\n    " + _D_FAKE,
     "real_term = F.softplus(real_logits).mean()\n    fake_term = F.softplus(-fake_logits).mean()",
     "discriminator_loss", "labels swapped"),
    ("D loss: one mean over both batches", _D_SUM,
     "return torch.cat([F.softplus(-real_logits), F.softplus(fake_logits)]).mean()", "discriminator_loss",
     "averaged over the two batches together"),
    ("D loss: summed over the batch", _D_SUM,
     "return F.softplus(-real_logits).sum() + F.softplus(fake_logits).sum()", "discriminator_loss", "summed"),
    ("D loss: the value function, not the loss", _D_SUM, "return -(real_term + fake_term)", "discriminator_loss",
     "the sign flipped"),
    ("D loss: no fake term", _D_SUM, "return real_term", "discriminator_loss", "the fake term left out"),
    ("D loss: collapses to float32", _D_SUM, "return (real_term + fake_term).float()", "discriminator_loss",
     "float64"),
    # generator_loss
    ("G loss: sigmoid then log", _G_NS, "return -torch.log(torch.sigmoid(fake_logits)).mean()", "generator_loss",
     "a sigmoid followed by a log"),
    ("G loss: minimax form when non-saturating is asked", "    if non_saturating:\n        return F.softplus",
     "    if not non_saturating:\n        return F.softplus", "generator_loss", "minimax (saturating) form"),
    ("G loss: minimax sign flipped", _G_MM, "return F.softplus(fake_logits).mean()", "generator_loss",
     "the sign flipped"),
    ("G loss: fakes labelled 0", _G_NS, "return F.softplus(fake_logits).mean()", "generator_loss",
     "the fake samples labelled 0"),
    ("G loss: minimax with sigmoid then log", _G_MM, "return torch.log(1 - torch.sigmoid(fake_logits)).mean()",
     "generator_loss", "a sigmoid followed by a log"),
    # Generator
    ("Generator with ReLU", _G_NET, _G_NET.replace("nn.LeakyReLU(0.2)", "nn.ReLU()"), "Generator",
     "nn.ReLU used instead of nn.LeakyReLU(0.2)"),
    ("Generator with the default leaky slope", _G_NET, _G_NET.replace("nn.LeakyReLU(0.2)", "nn.LeakyReLU()"),
     "Generator", "default slope 0.01"),
    ("Generator with a tanh output", "return self.net(z)                            # (B, data_dim)",
     "return torch.tanh(self.net(z))", "Generator", "a tanh after the last layer"),
    ("Generator without its middle layer", _G_NET,
     "            nn.Linear(latent_dim, hidden_dim), nn.LeakyReLU(0.2),\n            nn.Linear(hidden_dim, data_dim),",
     "Generator", "parameter names and shapes"),
    # Discriminator
    ("Discriminator returns probabilities", _D_OUT, "return torch.sigmoid(self.net(x).squeeze(-1))",
     "Discriminator", "return logits, not probabilities"),
    ("Discriminator keeps the last axis", _D_OUT, "return self.net(x)", "Discriminator", "has shape"),
    ("Discriminator squeezes every axis", _D_OUT, "return self.net(x).squeeze()", "Discriminator",
     "drops the batch axis"),
    ("Discriminator with ReLU", _D_NET, _D_NET.replace("nn.LeakyReLU(0.2)", "nn.ReLU()"), "Discriminator",
     "nn.ReLU used instead of nn.LeakyReLU(0.2)"),
    # train_step
    ("fake batch not detached in D's step", _FAKE, "fake = G(z_d)", "train_step", "the fake batch was not detached"),
    ("D's gradients not zeroed", "    opt_D.zero_grad()\n", "", "train_step", "not zeroed before D's update"),
    ("G's gradients not zeroed", "    opt_G.zero_grad()\n", "", "train_step", "not zeroed before G's update"),
    ("D's step on G(z_g)", _FAKE, "fake = G(z_g).detach()", "train_step", "instead of G(z_d)"),
    ("G's step reuses G(z_d)", _G_STEP, "g_loss = generator_loss(D(G(z_d)), non_saturating)", "train_step",
     "instead of a fresh G(z_g)"),
    ("saturating loss when non-saturating is asked", _G_STEP,
     "g_loss = generator_loss(D(G(z_g)), non_saturating=False)", "train_step", "minimax (saturating)"),
    ("non_saturating not passed on", _G_STEP, "g_loss = generator_loss(D(G(z_g)))", "train_step",
     "pass non_saturating on"),
    ("D stepped again after G's update", "    opt_G.step()                                            # only G",
     "    opt_D.step()\n    opt_G.step()                                            # only G", "train_step",
     "opt_D.step() was called 2 times"),
    ("G updated before D", _D_BLOCK, _G_BLOCK + "\n" + _D_BLOCK_LAST, "train_step", "before D's update"),
    ("losses returned as tensors", _RETURN, "return d_loss.detach(), g_loss.detach()", "train_step",
     "expected a Python float"),
    ("F.binary_cross_entropy_with_logits in the D loss", _D_SUM,
     "return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))\n"
     "            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))",
     "discriminator_loss", "forbidden"),
]

# The end-to-end run is left out of the bugs' grading for speed: each bug is graded on the quick checks of its own
# target (the engine adds the target's core checks).
_QUICK = {
    "discriminator_loss": ["discriminator_loss:"],
    "generator_loss": ["generator_loss:"],
    "Generator": ["Generator:"],
    "Discriminator": ["Discriminator:"],
    "train_step": ["train_step: D", "train_step: G", "train_step: no", "train_step: one", "train_step: returns",
                   "train_step: both"],
}
SELECT = {name: _QUICK[target] for name, _old, _new, target, _says in BUGS}
