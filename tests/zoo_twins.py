"""PyTorch twins of the model zoo: the same layers under the same names (so state_dict keys and
shapes agree), built from ``torch.nn``; used by the model tests and the summary tests."""
from __future__ import annotations


def torch_lenet(torch, act, pool):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), act(), pool(2), nn.Conv2d(6, 16, 5), act(), pool(2),
                         nn.Flatten(), nn.Linear(400, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, 10))


def torch_alexnet(torch):
    nn = torch.nn
    features = nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(True), nn.MaxPool2d(3, 2), nn.Conv2d(64, 192, 5, padding=2),
        nn.ReLU(True), nn.MaxPool2d(3, 2), nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(True), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(True),
        nn.MaxPool2d(3, 2))
    classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(True), nn.Dropout(0.5),
                               nn.Linear(4096, 4096), nn.ReLU(True), nn.Linear(4096, 1000))
    return nn.ModuleDict({"features": features, "avgpool": nn.AdaptiveAvgPool2d((6, 6)), "classifier": classifier})


def torch_vgg(torch, config, batch_norm):
    nn, layers, c = torch.nn, [], 3
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1)] + ([nn.BatchNorm2d(v)] if batch_norm else []) + [nn.ReLU(True)]
            c = v
    classifier = nn.Sequential(nn.Linear(25088, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 4096),
                               nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 1000))
    return nn.ModuleDict({"features": nn.Sequential(*layers), "avgpool": nn.AdaptiveAvgPool2d(7),
                          "classifier": classifier})


def torch_resnet(torch, layers):
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                               if stride != 1 or cin != cout else None)

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + identity)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1, self.relu, self.maxpool = nn.BatchNorm2d(64), nn.ReLU(True), nn.MaxPool2d(3, 2, 1)
            cin = 64
            for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
                blocks = [Block(cin, planes, 1 if i == 0 else 2)] + [Block(planes, planes, 1) for _ in range(n - 1)]
                setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
                cin = planes
            self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(512, 1000)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return Net()


def torch_alexnet_2012(torch):
    """The paper's AlexNet (groups, LRN), as cnnlab.models.alexnet('2012')."""
    nn = torch.nn
    lrn = lambda: nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)  # noqa: E731
    features = nn.Sequential(
        nn.Conv2d(3, 96, 11, 4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2), nn.Conv2d(96, 256, 5, padding=2, groups=2),
        nn.ReLU(), lrn(), nn.MaxPool2d(3, 2), nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(), nn.Conv2d(384, 256, 3, padding=1, groups=2),
        nn.ReLU(), nn.MaxPool2d(3, 2))
    classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(True), nn.Dropout(0.5),
                               nn.Linear(4096, 4096), nn.ReLU(True), nn.Linear(4096, 1000))
    return nn.ModuleDict({"features": features, "avgpool": nn.Identity(), "classifier": classifier})


def torch_gapnet(torch, in_channels=1, num_classes=10, widths=(32, 64, 128)):
    """cnnlab.models.gapnet(): blocks of two conv3×3-BN-ReLU, max-pools between, GAP, fc."""
    nn, layers, c = torch.nn, [], in_channels
    for i, w in enumerate(widths):
        for _ in range(2):
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            c = w
        if i < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
    return nn.ModuleDict({"features": nn.Sequential(*layers), "gap": nn.AdaptiveAvgPool2d(1),
                          "fc": nn.Linear(c, num_classes)})


def torch_resnet_cifar(torch, depth=20, num_classes=10):
    """cnnlab.models.resnet_cifar(depth): the paper's CIFAR ResNet with option-A shortcuts."""
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.stride, self.extra = stride, cout - cin

        def forward(self, x):
            out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            shortcut = x[:, :, ::self.stride, ::self.stride]
            if self.extra:
                shortcut = F.pad(shortcut, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
            return F.relu(out + shortcut)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            n = (depth - 2) // 6
            self.conv1, self.bn1 = nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)
            planes = 16
            for i, w in enumerate((16, 32, 64)):
                blocks = [Block(planes, w, 1 if i == 0 else 2)] + [Block(w, w) for _ in range(n - 1)]
                setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
                planes = w
            self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(64, num_classes)

        def forward(self, x):
            x = self.layer3(self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x))))))
            return self.fc(self.avgpool(x).flatten(1))

    return Net()


def torch_forward(torch, twin, x):
    """Run a twin: a ModuleDict twin (AlexNet, VGG, GAP net) as its model's forward, features -> pool -> flatten -> head."""
    if isinstance(twin, torch.nn.ModuleDict):
        pool, head = ("avgpool", "classifier") if "classifier" in twin else ("gap", "fc")
        return twin[head](torch.flatten(twin[pool](twin["features"](x)), 1))
    return twin(x)


def _torch_block(nn, cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def torch_unet(torch, in_channels=1, num_classes=11, widths=(16, 32, 64, 128)):
    """cnnlab.models.unet(): conv blocks and max-pools down, 2×2 transposed convs, concatenation and blocks up."""
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            cs = (in_channels,) + tuple(widths)
            self.down = nn.ModuleList([_torch_block(nn, a, b) for a, b in zip(cs[:-1], cs[1:])])
            levels = list(reversed(range(len(widths) - 1)))
            self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in levels])
            self.decode = nn.ModuleList([_torch_block(nn, 2 * widths[i], widths[i]) for i in levels])
            self.head = nn.Conv2d(widths[0], num_classes, 1)

        def forward(self, x):
            skips = []
            for i, block in enumerate(self.down):
                x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
                skips.append(x)
            for up, decode, skip in zip(self.up, self.decode, reversed(skips[:-1])):
                x = decode(torch.cat([skip, up(x)], 1))
            return self.head(x)

    return Net()


def torch_fcn(torch, in_channels=1, num_classes=11, widths=(16, 32, 64, 128, 128)):
    """cnnlab.models.fcn(): five conv blocks (pools after four), scores fused from strides 16, 8 and 4."""
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            cs = (in_channels,) + tuple(widths)
            self.blocks = nn.ModuleList([_torch_block(nn, a, b) for a, b in zip(cs[:-1], cs[1:])])
            self.score = nn.Conv2d(widths[4], num_classes, 1)
            self.score_pool8 = nn.Conv2d(widths[2], num_classes, 1)
            self.score_pool4 = nn.Conv2d(widths[1], num_classes, 1)
            self.up16 = nn.ConvTranspose2d(num_classes, num_classes, 4, 2, 1, bias=False)
            self.up8 = nn.ConvTranspose2d(num_classes, num_classes, 4, 2, 1, bias=False)
            self.up4 = nn.ConvTranspose2d(num_classes, num_classes, 8, 4, 2, bias=False)

        def forward(self, x):
            pooled = []
            for i, block in enumerate(self.blocks):
                x = block(x)
                if i < 4:
                    x = nn.functional.max_pool2d(x, 2)
                    pooled.append(x)
            scores = self.up8(self.up16(self.score(x)) + self.score_pool8(pooled[2]))
            return self.up4(scores + self.score_pool4(pooled[1]))

    return Net()


def torch_srcnn(torch, scale, widths=(64, 32), kernel_sizes=(9, 1, 5)):
    """cnnlab.models.srcnn: PyTorch's bicubic Upsample, then conv - ReLU - conv - ReLU - conv, 'same' padding."""
    nn, (n1, n2), (f1, f2, f3) = torch.nn, widths, kernel_sizes
    return nn.Sequential(nn.Upsample(scale_factor=scale, mode="bicubic"), nn.Conv2d(1, n1, f1, padding=f1 // 2),
                         nn.ReLU(), nn.Conv2d(n1, n2, f2, padding=f2 // 2), nn.ReLU(),
                         nn.Conv2d(n2, 1, f3, padding=f3 // 2))


def torch_espcn(torch, scale):
    """cnnlab.models.espcn: conv 5×5 - tanh - conv 3×3 - tanh - conv 3×3 to scale² channels - PixelShuffle."""
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 64, 5, padding=2), nn.Tanh(), nn.Conv2d(64, 32, 3, padding=1), nn.Tanh(),
                         nn.Conv2d(32, scale * scale, 3, padding=1), nn.PixelShuffle(scale))
