//! TAEF2 in burn against the original checkpoints: real photos at 256x256 through
//! encode -> 8-bit latents -> decode must keep PSNR >= 30 dB.
#![cfg(feature = "pytorch")]

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::data::{photo, psnr, square_planar, taef2_dir};
use lora_video_shared::model::taef2::{self, Decoder, Encoder};
use lora_video_shared::model::weights::WeightError;

#[test]
fn real_photos_survive_8bit_latents() {
    let device = Device::flex();
    let (enc_w, dec_w) = taef2::load_checkpoints(&taef2_dir()).unwrap();
    assert_eq!((enc_w.len(), dec_w.len()), (79, 79));
    let (encoder, decoder) = (Encoder::load(&enc_w, &device).unwrap(), Decoder::load(&dec_w, &device).unwrap());
    for name in ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"] {
        let x = square_planar(&photo(name), 256);
        let image = Tensor::<4>::from_data(TensorData::new(x.clone(), [1, 3, 256, 256]), &device);
        let latent = encoder.forward(image);
        assert_eq!(latent.dims(), [1, 32, 32, 32]);
        let y = decoder.forward(taef2::round_trip_u8(latent));
        let y: Vec<f32> = y.into_data().try_to_vec().unwrap();
        let db = psnr(&x, &y);
        println!("TAEF2 8-bit latent round trip, {name} 256x256: {db:.2} dB");
        assert!(db >= 30.0, "{name}: {db:.2} dB < 30 dB");
    }
}

#[test]
fn a_damaged_checkpoint_is_refused() {
    let dir = std::env::temp_dir().join(format!("taef2-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = taef2_dir();
    std::fs::copy(src.join("SHA256SUMS"), dir.join("SHA256SUMS")).unwrap();
    std::fs::copy(src.join("taef2_encoder.pth"), dir.join("taef2_encoder.pth")).unwrap();
    let mut dec = std::fs::read(src.join("taef2_decoder.pth")).unwrap();
    dec[1000] ^= 1;
    std::fs::write(dir.join("taef2_decoder.pth"), dec).unwrap();
    assert!(matches!(taef2::load_checkpoints(&dir), Err(WeightError::Digest { .. })));
}
